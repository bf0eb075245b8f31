"""An offline machine, simulated at the two places a program meets the network: name lookups and connects.

* :func:`offline_getaddrinfo` answers every name but ``localhost`` the way the resolver of a
  machine without a network does: ``socket.gaierror(EAI_AGAIN, "Temporary failure in name
  resolution")``, before any packet is sent (the test-suite guard would refuse the lookup with
  its own ``NetworkRefused`` instead, which no real client expects).
* :func:`closed_port` is a port on 127.0.0.1 nothing listens on: a connect there is refused by
  the kernel, exactly like a host that is down.

``python -m tests.net.offline COMMAND...`` runs ``python -m collectors COMMAND...`` in such a
world (guard installed, offline resolver over it), so a test can check the real command's exit
status, stderr and duration in its own process.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

#: names an offline resolver still answers (from /etc/hosts)
LOCAL_NAMES = ("localhost",)


def _is_literal_or_local(host: object) -> bool:
    import ipaddress

    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in ("", *LOCAL_NAMES):
        return True
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


def offline_getaddrinfo(lookup: Any) -> Any:
    """A ``getaddrinfo`` failing every real name like an offline resolver; literals and localhost go to ``lookup``."""

    def getaddrinfo(host: object, *args: Any, **kwargs: Any) -> Any:
        if not _is_literal_or_local(host):
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return lookup(host, *args, **kwargs)

    return getaddrinfo


def closed_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (bound, then released: connects are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def main(argv: list[str]) -> int:
    from tests.conftest import install_guard

    install_guard()
    socket.getaddrinfo = offline_getaddrinfo(socket.getaddrinfo)  # type: ignore[assignment]
    from collectors.cli import main as collectors_main

    return collectors_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
