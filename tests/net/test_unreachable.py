"""No server reached (refused, name lookup failed): a short retry, then ``Unreachable`` naming the host.

Real requests against real local conditions: a closed port on 127.0.0.1 refuses the
connection; a name lookup fails the way an offline resolver fails (``socket.gaierror``).
"""

from __future__ import annotations

import errno
import socket
import time

import pytest
import requests

from collectors.net import HostLimiter, Policy, Unreachable, connect_failure, make_session
from collectors.net.reach import DNS, NETWORK, NO_ROUTE, REFUSED, host_of
from tests.net.offline import closed_port, offline_getaddrinfo
from tests.servers.local_site import LocalSite, Reply

#: generous: proves "seconds, not minutes" without timing anything that matters
NOT_MINUTES_S = 10.0


@pytest.fixture
def offline_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo(socket.getaddrinfo))


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TCP connect attempt's address, in order (the guard still applies)."""
    seen: list[object] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        seen.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def session(**changes: object):
    settings: dict[str, object] = {"min_interval_s": 0.0, "jitter_s": 0.0, "unreachable_wait_s": 0.05,
                                   "backoff_base_s": 30.0, "backoff_max_s": 60.0}  # the slow path must not run
    settings.update(changes)
    return make_session(Policy.api(**settings), limiter=HostLimiter())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_refused_connection_is_retried_briefly_then_names_the_host(connects: list[object], method: str) -> None:
    port = closed_port()
    started = time.monotonic()
    with session(unreachable_retries=2) as s, pytest.raises(Unreachable) as caught:
        s.request(method, f"http://127.0.0.1:{port}/ws/2/recording?api_key=secret-value-123")
    assert time.monotonic() - started < NOT_MINUTES_S
    exc = caught.value
    assert str(exc).startswith(f"cannot reach 127.0.0.1:{port}: check your connection (the connection was refused)")
    assert (exc.host, exc.why) == (f"127.0.0.1:{port}", REFUSED)
    assert "\n" not in str(exc) and "secret-value-123" not in str(exc) and "secret-value-123" not in exc.url
    # nothing was sent, so even a POST is tried again: 1 + unreachable_retries connects
    assert connects.count(("127.0.0.1", port)) == 3


def test_a_failed_name_lookup_is_unreachable_too(offline_dns: None) -> None:
    started = time.monotonic()
    with session() as s, pytest.raises(Unreachable) as caught:
        s.get("https://no-such-host.invalid/ws/2/isrc/X")
    assert time.monotonic() - started < NOT_MINUTES_S
    assert caught.value.brief == f"cannot reach no-such-host.invalid: check your connection ({DNS})"


def test_a_host_that_comes_back_within_the_short_retry_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blip (one refused connect) costs one short wait, not a stop."""
    with LocalSite() as site, session(unreachable_retries=2) as s:
        site.route("/page", Reply(200, "fine"))
        real = socket.socket.connect
        refused = []

        def connect_once_refused(sock: socket.socket, address: object) -> None:
            if not refused:
                refused.append(address)
                raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
            return real(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect_once_refused)
        assert s.get(site.url("/page")).text == "fine"
    assert len(refused) == 1


def test_a_server_that_answers_with_errors_keeps_the_ordinary_retries() -> None:
    with LocalSite() as site, session(max_retries=2, backoff_base_s=0.01, backoff_max_s=0.02) as s:
        site.route("/busy", Reply(503, "busy"), Reply(503, "busy"), Reply(200, "ok"))
        assert s.get(site.url("/busy")).text == "ok"


def test_no_unreachable_retries_means_one_attempt(connects: list[object]) -> None:
    port = closed_port()
    with session(unreachable_retries=0) as s, pytest.raises(Unreachable):
        s.get(f"http://127.0.0.1:{port}/")
    assert connects.count(("127.0.0.1", port)) == 1


def test_policy_refuses_negative_unreachable_settings() -> None:
    with pytest.raises(ValueError, match="unreachable_retries"):
        Policy(unreachable_retries=-1)
    with pytest.raises(ValueError, match="unreachable_wait_s"):
        Policy(unreachable_wait_s=-0.5)


# ---------------------------------------------------------------- telling failures apart

def _requests_error(url: str) -> requests.RequestException:
    try:
        requests.get(url, timeout=2)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("the request succeeded")


def test_connect_failure_reads_requests_chains(offline_dns: None) -> None:
    port = closed_port()
    refused = connect_failure(_requests_error(f"http://127.0.0.1:{port}/x"))
    assert refused is not None and (refused.host, refused.why) == (f"127.0.0.1:{port}", REFUSED)
    lookup = connect_failure(_requests_error("https://no-such-host.invalid/x"))
    assert lookup is not None and (lookup.host, lookup.why) == ("no-such-host.invalid", DNS)


@pytest.mark.parametrize(("exc", "why"), [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), DNS),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), REFUSED),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), NETWORK),
    (OSError(errno.EHOSTUNREACH, "No route to host"), NO_ROUTE),
    # the words of yt-dlp's and curl's messages, for libraries that pass on only text
    (RuntimeError("ERROR: [generic] x: Unable to download webpage: HTTPConnection(host='cdn.example.org', "
                  "port=80): Failed to resolve 'cdn.example.org' ([Errno -3] Temporary failure in name "
                  "resolution)"), DNS),
    (RuntimeError("Unable to download webpage: <urlopen error [Errno 111] Connection refused>"), REFUSED),
    (RuntimeError("Could not resolve host: www.youtube.com"), DNS),
])
def test_connect_failure_kinds(exc: BaseException, why: str) -> None:
    failure = connect_failure(exc, "https://www.youtube.com/watch?v=abc")
    assert failure is not None and failure.why == why
    assert failure.host in ("cdn.example.org", "www.youtube.com")


@pytest.mark.parametrize("exc", [
    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    TimeoutError("timed out"),
    requests.exceptions.ConnectTimeout("Connection to example.org timed out. (connect timeout=10)"),
    requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)"),
    RuntimeError("HTTP Error 503: Service Unavailable"),
])
def test_other_failures_are_not_connect_failures(exc: BaseException) -> None:
    """A reset, a timeout or an error answer: a server was there; the ordinary retries apply."""
    assert connect_failure(exc) is None


def test_the_cause_is_found_however_deep_it_is_wrapped() -> None:
    try:
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except OSError as inner:
            raise RuntimeError("wrapped once") from inner
    except RuntimeError as outer:
        wrapper = ValueError("wrapped twice", outer)
    failure = connect_failure(wrapper, "http://music.example.org:8080/x")
    assert failure is not None and (failure.host, failure.why) == ("music.example.org:8080", DNS)


def test_host_of_keeps_only_non_default_ports() -> None:
    assert host_of("https://user:pw@MusicBrainz.org/ws/2") == "musicbrainz.org"
    assert host_of("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert host_of("http://example.org:80/") == "example.org"
