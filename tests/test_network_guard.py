"""The suite's own safety net: connections leave only to loopback, and no name is looked up.

The proof runs a tiny pytest session in a subprocess, twice: once with our
conftest as a plugin (every attempt must fail with ``NetworkRefused``) and once
without it (the same attempts must reach the socket layer).  In both runs a
recorder plugin has replaced the operating system's connect and lookup calls
before anything else is imported, so the control run shows that the attempt
would have gone out, and no packet leaves the machine either way.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import NetworkRefused

#: TEST-NET-1 (RFC 5737): documentation-only, never routed; port 9 is "discard".
TARGET = ("192.0.2.1", 9)
#: A reserved name (RFC 6761) that must not even be looked up.
NAME = "guard-check.invalid"

RECORDER = '''
"""Replaces the real connect and lookup: each attempt is written down, nothing is sent."""
import errno, ipaddress, json, os, socket

_numeric_lookup = socket.getaddrinfo

def _note(kind, where):
    with open(os.environ["GUARD_RECORD"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps([kind, list(where) if isinstance(where, tuple) else where]) + "\\n")

def connect(self, address):
    _note("connect", address)
    raise ConnectionRefusedError(errno.ECONNREFUSED, "recorded by the guard test, never sent")

def connect_ex(self, address):
    _note("connect_ex", address)
    return errno.ECONNREFUSED

def getaddrinfo(host, *args, **kwargs):
    try:  # an address literal needs no name server: answer it, with lookups forbidden
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return _numeric_lookup(host, args[0] if args else None, type=socket.SOCK_STREAM,
                               flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
    _note("getaddrinfo", host)
    raise socket.gaierror(socket.EAI_NONAME, "recorded by the guard test, never asked")

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
'''

ATTEMPTS = f'''
import socket

import requests

TARGET = {TARGET!r}


def test_create_connection():
    socket.create_connection(TARGET, timeout=1).close()


def test_connect_ex():
    with socket.socket() as sock:
        assert sock.connect_ex(TARGET) == 0


def test_requests():
    requests.get("http://%s:%d/" % TARGET, timeout=1)


def test_name_lookup():
    socket.create_connection(({NAME!r}, 80), timeout=1).close()
'''


def _inner_session(tmp_path: Path, *, guard: bool) -> tuple[dict[str, str], list[list[object]], str]:
    """Run the attempts in a fresh interpreter; (test name -> failure message, recorded calls, output)."""
    (tmp_path / "guard_recorder.py").write_text(RECORDER, encoding="utf-8")
    (tmp_path / "test_attempts.py").write_text(ATTEMPTS, encoding="utf-8")
    record = tmp_path / "record.jsonl"
    record.touch()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(GUARD_RECORD=str(record), PYTHONPATH=os.pathsep.join([str(tmp_path), str(conftest.REPO)]),
               PYTHONDONTWRITEBYTECODE="1")
    # the recorder is imported first, so the conftest saves it as the "real" connect
    plugins = ["-p", "guard_recorder"] + (["-p", "tests.conftest"] if guard else [])
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", *plugins, "-p", "no:cacheprovider", "-q",
                           f"--junitxml={junit}", "--rootdir", str(tmp_path), "test_attempts.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert junit.exists(), output
    failures = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure")
        failures[case.get("name", "")] = "" if failed is None else failed.get("message", "")
    calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return failures, calls, output


def test_the_guard_makes_an_internet_test_fail(tmp_path: Path) -> None:
    failures, calls, output = _inner_session(tmp_path, guard=True)
    assert set(failures) == {"test_create_connection", "test_connect_ex", "test_requests", "test_name_lookup"}, output
    for name, message in failures.items():
        assert message.startswith("tests.conftest.NetworkRefused: test tried to"), (name, output)
        assert "tests never touch the internet" in message
    assert str(TARGET) in failures["test_requests"]  # requests does not hide it behind a ConnectionError
    assert repr(NAME) in failures["test_name_lookup"]
    assert calls == [], "the guard let an attempt through to the socket layer"


def test_without_the_guard_the_same_attempts_reach_the_socket_layer(tmp_path: Path) -> None:
    """The control: the inner tests are not refused by anything but the guard."""
    failures, calls, output = _inner_session(tmp_path, guard=False)
    assert "NetworkRefused" not in output
    assert failures["test_create_connection"].startswith("ConnectionRefusedError"), output
    assert failures["test_connect_ex"].startswith(f"AssertionError: assert {errno.ECONNREFUSED} == 0"), output
    assert "ConnectionError" in failures["test_requests"], output
    assert "gaierror" in failures["test_name_lookup"], output
    target = [TARGET[0], TARGET[1]]
    assert ["connect", target] in calls and ["connect_ex", target] in calls
    assert calls.count(["connect", target]) == 2  # socket.create_connection and requests
    assert ["getaddrinfo", NAME] in calls


# ---------------------------------------------------------------- in this very session

@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The guard's "real" calls replaced by recorders: whatever the guard lets through is written down.

    Fails before any attempt when the guard is not installed, so even a broken guard sends nothing.
    """
    if (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo) != (
            conftest._guarded_connect, conftest._guarded_connect_ex, conftest._guarded_getaddrinfo):
        pytest.fail("the network guard is not installed (tests/conftest.py pytest_configure)")
    calls: list[object] = []
    real_lookup = conftest._real_getaddrinfo

    def connect(sock: socket.socket, address: object) -> None:
        calls.append(address)
        raise ConnectionRefusedError("recorded, never sent")

    def connect_ex(sock: socket.socket, address: object) -> int:
        calls.append(address)
        return errno.ECONNREFUSED

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "localhost" or conftest._needs_dns(host) is False:
            return real_lookup(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICSERV | (
                0 if host == "localhost" else socket.AI_NUMERICHOST))
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "recorded, never asked")

    monkeypatch.setattr(conftest, "_real_connect", connect)
    monkeypatch.setattr(conftest, "_real_connect_ex", connect_ex)
    monkeypatch.setattr(conftest, "_real_getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize("address", [("192.0.2.1", 9), ("10.0.0.1", 80), ("8.8.8.8", 53), ("example.org", 80)])
def test_public_addresses_are_refused_before_the_socket_layer(address: tuple[str, int],
                                                              recorded: list[object]) -> None:
    with socket.socket() as sock, pytest.raises(NetworkRefused, match="never touch the internet"):
        sock.connect(address)
    with socket.socket() as sock, pytest.raises(NetworkRefused):
        sock.connect_ex(address)
    with pytest.raises(NetworkRefused):
        socket.create_connection(address, timeout=1)
    assert recorded == []


@pytest.mark.parametrize("address", [("127.0.0.1", 9), ("localhost", 9)])
def test_loopback_goes_through(address: tuple[str, int], recorded: list[object]) -> None:
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="recorded"):
        sock.connect(address)
    assert recorded == [address]


def test_ipv6_loopback_goes_through(recorded: list[object]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket(socket.AF_INET6) as sock:
        assert sock.connect_ex(("::1", 9, 0, 0)) == errno.ECONNREFUSED
        with pytest.raises(NetworkRefused):
            sock.connect_ex(("2001:db8::1", 9, 0, 0))
    assert recorded == [("::1", 9, 0, 0)]


def test_name_lookups_other_than_localhost_are_refused(recorded: list[object]) -> None:
    with pytest.raises(NetworkRefused, match="look up 'example.org'"):
        socket.getaddrinfo("example.org", 80)
    with pytest.raises(NetworkRefused, match="look up b'example.org'"):
        socket.getaddrinfo(b"example.org", 80)
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"
    assert recorded == []


def test_loopback_server_is_allowed() -> None:
    """A real connection to a local server (fake servers of the suite work this way)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
        thread.start()
        with socket.create_connection(server.getsockname(), timeout=5):
            thread.join(timeout=5)
        assert accepted, "the loopback connection was not accepted"
        accepted[0].close()
