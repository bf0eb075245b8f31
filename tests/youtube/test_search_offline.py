"""The fallback search (yt-dlp's ytsearch) stops the stage when offline, like every other network path."""

from __future__ import annotations

import socket

import pytest

from collectors.net.errors import Unreachable
from collectors.youtube.match import TrackQuery
from collectors.youtube.search import YtDlpSearcher


def test_an_offline_fallback_search_is_unreachable_not_a_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline_resolver(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")  # what an offline resolver says

    monkeypatch.setattr(socket, "getaddrinfo", offline_resolver)
    searcher = YtDlpSearcher(params={"extractor_retries": 0, "retries": 0, "socket_timeout": 2})
    with pytest.raises(Unreachable) as caught:
        list(searcher.rounds(TrackQuery("trk001", "Song", ("Band",))))
    assert caught.value.host == "www.youtube.com"
    assert str(caught.value).startswith("cannot reach www.youtube.com: check your connection")
