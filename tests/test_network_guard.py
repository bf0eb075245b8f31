"""The suite's own safety net: connections leave only to loopback."""

import socket
import threading

import pytest
import requests

from tests.conftest import NetworkRefused


def test_public_address_is_refused() -> None:
    with pytest.raises(NetworkRefused, match="never touch the internet"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_requests_to_a_public_host_fail_before_any_packet() -> None:
    with pytest.raises((NetworkRefused, requests.exceptions.ConnectionError)):
        requests.get("http://192.0.2.1/", timeout=1)


def test_loopback_server_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()))
    thread.start()
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    thread.join(timeout=2)
    client.close()
    accepted[0][0].close()
    server.close()
    assert accepted, "the loopback connection was not accepted"
