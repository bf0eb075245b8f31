"""Test-suite wide rules: no test may reach beyond this machine.

Every socket connection to a non-loopback address, and every name lookup other
than ``localhost`` (a DNS query is a packet too), is refused with
:class:`NetworkRefused` before anything is sent, so a test that would quietly
depend on the internet fails loudly instead.  Local fake servers on 127.0.0.1
(and ::1) are allowed.  ``tests/test_network_guard.py`` proves the guard in a
separate pytest run.

Shared fixtures: ``layout`` (an empty data folder) and ``tiny_data`` (a complete
small one); their builders, and more, are in :mod:`tests.fixtures`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from manifests.layout import Layout

REPO = Path(__file__).resolve().parent.parent
#: ../shared beside the checkout (CI) or shared/ inside it
SHARED = next((p for p in (REPO.parent / "shared", REPO / "shared") if p.is_dir()), REPO.parent / "shared")


class NetworkRefused(RuntimeError):
    """Raised when a test tries to reach a non-loopback address."""


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name that is not localhost: it would need DNS, refuse


def _needs_dns(host: object) -> bool:
    """Whether looking ``host`` up would ask a name server (IP literals and localhost never do)."""
    if host is None:
        return False
    if isinstance(host, bytes):
        host = host.decode()
    text = str(host).split("%")[0]
    if text in ("", "localhost"):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return True
    return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkRefused(f"test tried to connect to {address!r}: tests never touch the internet")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkRefused(f"test tried to connect to {address!r}: tests never touch the internet")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if _needs_dns(host):
        raise NetworkRefused(f"test tried to look up {host!r}: tests never touch the internet")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


def install_guard() -> None:
    """Refuse connections beyond loopback and name lookups (done for every test session)."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    install_guard()
    # Libraries must never pick up a developer's proxy or credentials during tests.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from tests.fixtures.browser import browser  # noqa: E402,F401  (a fixture: a headless Chromium)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say clearly when the real-browser tests did not run, and how to make them run."""
    from tests.fixtures.browser import MISSING

    if MISSING:
        terminalreporter.write_line(f"browser tests skipped ({len(MISSING)}): {MISSING[0]}", yellow=True)


@pytest.fixture
def shared_dir() -> Path:
    """The shared/ folder with contracts and real audio; skip loudly if the checkout lacks it."""
    if not SHARED.is_dir():
        pytest.fail(f"shared folder not found beside the checkout ({SHARED}); CI provides ../shared")
    return SHARED


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """An empty data folder (``tmp_path/data``) for a test to fill."""
    return Layout.at(tmp_path / "data")


@pytest.fixture
def tiny_data(tmp_path: Path) -> Layout:
    """Six tracks with tracks, claims, downloads (silent WAVs), splits and overrides written
    (see :func:`tests.fixtures.corpus.tiny_data_folder`)."""
    from tests.fixtures.corpus import tiny_data_folder

    return tiny_data_folder(tmp_path / "data")
