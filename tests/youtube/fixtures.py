"""Search results shaped like the real ones: ytmusicapi ``search()`` items and yt-dlp flat ``ytsearch`` entries.

Field names and value formats follow ytmusicapi 1.x (``videoType``, ``duration`` "m:ss",
``duration_seconds``, ``artists`` as ``{"name", "id"}``, ``album`` as ``{"name", "id"}``,
``isAvailable``) and yt-dlp's YoutubeTab ``_extract_video`` (``id``, ``title``, ``duration``,
``channel``, ``channel_is_verified``, ``live_status``).  Video IDs are made up.
"""

from __future__ import annotations

from typing import Any

ATV = "MUSIC_VIDEO_TYPE_ATV"
OMV = "MUSIC_VIDEO_TYPE_OMV"
UGC = "MUSIC_VIDEO_TYPE_UGC"


def _clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def ytm_song(video_id: str, title: str, artists: list[str], seconds: int, *, album: str | None = None,
             explicit: bool = False, available: bool = True) -> dict[str, Any]:
    """A ``filter="songs"`` result: official audio (ATV) on the artist's Topic channel."""
    assert len(video_id) == 11, video_id
    return {
        "category": "Songs", "resultType": "song", "title": title, "videoId": video_id, "videoType": ATV,
        "artists": [{"name": a, "id": f"UC{abs(hash(a)) % 10**20:020d}"} for a in artists],
        "album": {"name": album, "id": "MPREb_" + video_id} if album else None,
        "duration": _clock(seconds), "duration_seconds": seconds, "year": None, "isExplicit": explicit,
        "isAvailable": available, "inLibrary": False, "thumbnails": [],
        "feedbackTokens": {"add": None, "remove": None},
    }


def ytm_video(video_id: str, title: str, channel: str, seconds: int, *, video_type: str = UGC,
              views: str = "1.2M") -> dict[str, Any]:
    """A ``filter="videos"`` result: the uploader appears in ``artists``."""
    assert len(video_id) == 11, video_id
    return {
        "category": "Videos", "resultType": "video", "title": title, "videoId": video_id, "videoType": video_type,
        "artists": [{"name": channel, "id": None}], "views": views, "duration": _clock(seconds),
        "duration_seconds": seconds, "year": None, "isAvailable": True, "thumbnails": [],
    }


def ytdlp_entry(video_id: str, title: str, channel: str, seconds: int | None, *, verified: bool = False,
                live_status: str | None = None) -> dict[str, Any]:
    """One entry of ``extract_info("ytsearch10:...", download=False)`` with ``extract_flat``."""
    assert len(video_id) == 11, video_id
    return {
        "_type": "url", "ie_key": "Youtube", "id": video_id, "url": f"https://www.youtube.com/watch?v={video_id}",
        "title": title, "description": None, "duration": seconds, "channel_id": "UCxxxxxxxxxxxxxxxxxxxxxx",
        "channel": channel, "channel_url": None, "uploader": channel, "uploader_id": None, "thumbnails": [],
        "timestamp": None, "release_timestamp": None, "availability": None, "view_count": 1000,
        "live_status": live_status, "channel_is_verified": True if verified else None,
    }


#: "Blinding Lights" by The Weeknd (3:20): what each search round returns.
BLINDING = {
    "track": {"track_id": "tblinding000001", "title": "Blinding Lights", "artists": ["The Weeknd"],
              "album": "After Hours", "duration_ms": 200_040, "isrc": "USUG11904206"},
    "isrc": [ytm_song("atvBlindL01", "Blinding Lights", ["The Weeknd"], 200, album="After Hours")],
    "songs": [
        ytm_song("atvBlindL01", "Blinding Lights", ["The Weeknd"], 200, album="After Hours"),
        ytm_song("wrongArtst1", "Blinding Lights", ["Some Other Band"], 199, album="Covers Vol. 2"),
        ytm_song("spedUpAtv01", "Blinding Lights (Sped Up)", ["Speed Demons"], 170),
        ytm_song("japaneseT01", "ブラインディング・ライツ", ["The Weeknd"], 200),
    ],
    "videos": [
        ytm_video("omvBlindL01", "The Weeknd - Blinding Lights (Official Video)", "The Weeknd", 262,
                  video_type=OMV),
        ytm_video("audioBlind1", "The Weeknd - Blinding Lights (Official Audio)", "The Weeknd", 202),
        ytm_video("lyricBlind1", "The Weeknd - Blinding Lights (Lyrics)", "7clouds", 201),
        ytm_video("liveBlindL1", "The Weeknd - Blinding Lights (Live from the Super Bowl LV Halftime Show)",
                  "NFL", 205),
        ytm_video("coverBlind1", "Blinding Lights - The Weeknd (Cover by Jane Doe)", "Jane Doe Music", 198),
        ytm_video("hourBlindL1", "The Weeknd - Blinding Lights [1 HOUR]", "Loop Station", 3600),
        ytm_video("nightcore01", "Nightcore - Blinding Lights", "NightcoreReality", 196),
        ytm_video("karaokeBL01", "Blinding Lights - The Weeknd | Karaoke Version", "Sing King", 201),
    ],
    "ytsearch": [
        ytdlp_entry("audioBlind1", "The Weeknd - Blinding Lights (Official Audio)", "The Weeknd", 202,
                    verified=True),
        ytdlp_entry("lyricBlind1", "The Weeknd - Blinding Lights (Lyrics)", "7clouds", 201),
    ],
}
