"""Scoring one candidate against catalogue metadata: the choices a careful person would make."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.youtube.score import ScoreConfig, markers_in, rank, score_candidate
from collectors.youtube.search import Candidate, TrackQuery, candidate_from_ytdlp, candidate_from_ytmusic
from tests.youtube.fixtures import BLINDING, OMV, ytdlp_entry, ytm_song, ytm_video


def _track(title: str, artists: list[str], seconds: float | None, album: str | None = None) -> TrackQuery:
    return TrackQuery("t0000000000001", title, tuple(artists), album, seconds, None)


def _songs(items: list[dict[str, Any]], source: str = "ytmusic:songs") -> list[Candidate]:
    return [c for rank_, item in enumerate(items) if (c := candidate_from_ytmusic(item, source, rank_))]


def _ytm(item: dict[str, Any], source: str = "ytmusic:songs", rank_: int = 0) -> Candidate:
    cand = candidate_from_ytmusic(item, source, rank_)
    assert cand is not None
    return cand


def _ytdlp(entry: dict[str, Any], rank_: int = 0) -> Candidate:
    cand = candidate_from_ytdlp(entry, rank_)
    assert cand is not None
    return cand


def _blinding() -> tuple[TrackQuery, dict[str, Any]]:
    track = TrackQuery.from_row(BLINDING["track"])
    cands = _songs(BLINDING["songs"]) + _songs(BLINDING["videos"], "ytmusic:videos")
    return track, {s.video_id: s for s in (score_candidate(track, c) for c in cands)}


def test_official_audio_beats_every_other_upload_of_the_song() -> None:
    _, scored = _blinding()
    ranked = rank(scored.values())
    assert ranked[0].video_id == "atvBlindL01"
    assert ranked[0].detail["bonus:topic"] > 0 and ranked[0].score == pytest.approx(1.0)
    assert ranked[0].raw == pytest.approx(1.05, abs=0.002)  # the bonus survives the cap when ranking
    order = [s.video_id for s in ranked if s.passes(ScoreConfig())]
    # official audio on the artist's channel, then the official audio upload, then a fan lyric video;
    # no other version at all
    assert order == ["atvBlindL01", "audioBlind1", "lyricBlind1"]
    assert scored["audioBlind1"].detail.get("bonus:official")
    assert scored["lyricBlind1"].score > scored["liveBlindL1"].score


@pytest.mark.parametrize("video_id, marker", [
    ("liveBlindL1", "live"), ("coverBlind1", "cover"), ("karaokeBL01", "karaoke"), ("hourBlindL1", "loop"),
])
def test_versions_the_track_does_not_ask_for_are_rejected(video_id: str, marker: str) -> None:
    _, scored = _blinding()
    assert scored[video_id].code == marker and scored[video_id].rejected.startswith("a different recording")
    assert f"penalty:{marker}" in scored[video_id].detail and f"rejected:{marker}" in scored[video_id].detail
    assert not scored[video_id].passes(ScoreConfig()) and scored[video_id].score < 0.65


@pytest.mark.parametrize("title, channel, seconds, kind", [
    # the two fallbacks real data showed being accepted
    ("The Weeknd - Blinding Lights (Remake)", "ProdByNova", 200, "remake"),
    ("Blinding Lights - The Weeknd「AMV」Demon Slayer", "Akari Edits", 201, "fan_edit"),
    ("The Weeknd - Blinding Lights (sped up + reverb)", "Sped Vibes", 171, "slowed+sped_up"),
    ("The Weeknd - Blinding Lights (slowed + reverb)", "slowed vibes", 198, "slowed"),
    ("The Weeknd - Blinding Lights [8D AUDIO] 🎧", "8D Tunes", 200, "8d"),
    ("The Weeknd - Blinding Lights (BASS BOOSTED)", "Bass Nation", 200, "bass_boosted"),
    ("The Weeknd x Daft Punk - Blinding Lights x Starboy (Mashup)", "Mashup Mike", 205, "mashup"),
    ("[FREE] The Weeknd x 80s Synthwave Type Beat - \"Blinding Lights\"", "Kid Beats", 199, "type_beat"),
    ("FIRST TIME HEARING The Weeknd - Blinding Lights | REACTION", "Reacts w/ Jay", 206, "reaction"),
    ("The Weeknd - Blinding Lights | Piano Tutorial (Synthesia)", "Piano Keys", 202, "tutorial"),
    ("The Weeknd - Blinding Lights (Instrumental)", "Instrumentals Only", 200, "instrumental"),
    ("The Weeknd - Blinding Lights (Acapella)", "Vocals Only", 200, "a_cappella"),
    ("The Weeknd - Blinding Lights (Live at the BRIT Awards 2020)", "BRIT Awards", 203, "live"),
    ("The Weeknd - Blinding Lights (Extended Version)", "Extended Hits", 206, "extended"),
    ("The Weeknd - Blinding Lights (Acoustic Version)", "Guitar Soul", 201, "acoustic"),
    ("The Weeknd - Blinding Lights (Chromatics Remix)", "Remix Zone", 201, "remix"),
    ("The Weeknd - Blinding Lights (Versión Acústica) en vivo", "Fans MX", 200, "acoustic+live"),
    ("The Weeknd - Blinding Lights 【歌ってみた】", "Hana Ch.", 200, "cover"),
    ("The Weeknd - Blinding Lights (Dance Practice)", "Dance Crew", 200, "dance"),
])
def test_every_kind_of_other_recording_is_rejected_whatever_its_similarity(title: str, channel: str, seconds: int,
                                                                          kind: str) -> None:
    track = _track("Blinding Lights", ["The Weeknd"], 200)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("otherVers01", title, channel, seconds)))
    assert scored.code == kind, (scored.code, scored.rejected)
    assert not scored.passes(ScoreConfig())


@pytest.mark.parametrize("title, channel", [
    ("The Weeknd - Blinding Lights (Lyrics)", "7clouds"),
    ("The Weeknd - Blinding Lights (Official Lyric Video)", "TheWeekndVEVO"),
    ("The Weeknd - Blinding Lights (Official Audio)", "The Weeknd"),
    ("The Weeknd - Blinding Lights (Visualizer)", "The Weeknd"),
    ("Blinding Lights", "The Weeknd - Topic"),
    ("The Weeknd - Blinding Lights (Letra/Lyrics)", "Letras Pop"),
])
def test_lyric_videos_visualizers_and_topic_channels_are_the_recording(title: str, channel: str) -> None:
    track = _track("Blinding Lights", ["The Weeknd"], 200)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("sameRecord1", title, channel, 201)))
    assert scored.passes(ScoreConfig()), scored.rejected


def test_a_loop_says_so_and_a_music_video_with_intro_is_rejected_on_duration() -> None:
    _, scored = _blinding()
    assert scored["hourBlindL1"].rejected == "a different recording: loop"
    # the official video is 62 s longer than the track (intro and outro): a different edit
    assert "duration differs by 62 s" in scored["omvBlindL01"].rejected and scored["omvBlindL01"].code == "duration"


def test_same_title_by_another_artist_is_rejected_even_with_perfect_duration() -> None:
    track = TrackQuery.from_row(BLINDING["track"])
    scored = score_candidate(track, _ytm(ytm_song("otherBand01", "Blinding Lights", ["Some Other Band"], 200)))
    assert scored.detail["title"] == pytest.approx(1.0)
    assert scored.rejected.startswith("artist differs") and scored.code == "artist"
    # the same song on a covers album says so through the album name
    assert _blinding()[1]["wrongArtst1"].code == "cover"


def test_a_title_in_another_script_far_down_the_results_is_not_taken_for_the_original() -> None:
    _, scored = _blinding()  # the artist's Topic channel, same length, but the fourth song result
    assert scored["japaneseT01"].rejected.startswith("title differs")


def test_titles_in_their_own_script_match_after_normalisation() -> None:
    track = _track("紅蓮華", ["LiSA"], 239)
    scored = score_candidate(track, _ytm(ytm_song("gurengeAtv1", "紅蓮華", ["LiSA"], 239)))
    assert scored.passes(ScoreConfig()) and scored.detail["title"] == 1.0 and "title_translated" not in scored.detail


def test_a_title_youtube_translated_is_matched_through_the_artists_channel_and_length() -> None:
    track = _track("紅蓮華", ["LiSA"], 239)
    romanised = _ytm(ytm_song("gurengeRom1", "Gurenge", ["LiSA"], 239))
    english = _ytdlp(ytdlp_entry("gurengeOmv1", "LiSA 'Red Lotus' -MUSiC CLiP-", "LiSA Official", 240), 1)
    for cand in (romanised, english):
        scored = score_candidate(track, cand)
        assert scored.passes(ScoreConfig()) and scored.detail["title_translated"] == 1.0, scored
        assert scored.score < 0.9  # accepted, but the search goes on for a better one
    # not the artist's channel, 3 s off, far down the list, or another version: a different video
    fan = _ytdlp(ytdlp_entry("gurengeFan1", "Demon Slayer Opening Full", "AnimeSongsHD", 239))
    other_song = _ytm(ytm_song("lisaOther01", "Homura", ["LiSA"], 242))
    far_down = _ytm(ytm_song("lisaFar0001", "Catch the Moment", ["LiSA"], 239), rank_=5)
    tv_size = _ytm(ytm_song("gurengeTv01", "Gurenge (TV Size)", ["LiSA"], 239))
    for cand in (fan, other_song, far_down):
        assert score_candidate(track, cand).code == "title", cand.video_id
    assert score_candidate(track, tv_size).code == "tv_size"


def test_accents_case_and_word_order_do_not_matter() -> None:
    track = _track("Bésame Mucho", ["Consuelo Velázquez"], 180)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("besameMuch1", "MUCHO BESAME - consuelo velazquez",
                                                       "Oldies", 181)))
    assert scored.detail["title"] == pytest.approx(1.0) and scored.detail["artist"] == pytest.approx(1.0)


def test_articles_and_ampersands_are_read_alike() -> None:
    track = _track("Make It Wit Chu", ["Queens of the Stone Age"], 290)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("qotsaMake01", "Queens Of The Stone Age - Make It Wit Chu",
                                                       "QOTSA", 291)))
    assert scored.passes(ScoreConfig())
    sessions = _track("Crawl Home", ["The Desert Sessions"], 235)
    scored = score_candidate(sessions, _ytdlp(ytdlp_entry("desertCraw1", "Desert Sessions - Crawl Home",
                                                          "Desert Sessions", 236)))
    assert scored.detail["artist"] == 1.0 and scored.passes(ScoreConfig())


def test_markers_are_whole_words_so_alive_is_not_live() -> None:
    assert "live" not in markers_in("Pearl Jam - Alive (Official Audio)")
    assert "live" in markers_in("Alive (Live at Pinkpop)")
    assert "cover" not in markers_in("Undercover Martyn")
    assert "cover" not in markers_in("Song (Official Cover Art)")
    assert "remix" not in markers_in("Remixture")
    assert "remix" not in markers_in("Here Comes The Sun (2019 Mix)") and "remix" in markers_in("Song (Club Mix)")
    assert "8d" in markers_in("Song [8D AUDIO]")
    assert "loop" in markers_in("Song (10 hours)") and "loop" in markers_in("紅蓮華 1時間耐久")
    track = _track("Alive", ["Pearl Jam"], 341)
    cand = _ytm(ytm_video("aliveAudio1", "Pearl Jam - Alive (Official Audio)", "Pearl Jam", 341), "ytmusic:videos")
    scored = score_candidate(track, cand)
    assert not any(k.startswith("penalty") for k in scored.detail) and scored.passes(ScoreConfig())


def test_a_version_the_track_asks_for_is_accepted_and_the_studio_take_is_not() -> None:
    track = _track("Live Forever", ["Oasis"], 276)
    assert score_candidate(track, _ytm(ytm_song("liveForever", "Live Forever", ["Oasis"], 276))).passes(ScoreConfig())
    knebworth = _ytdlp(ytdlp_entry("liveForKneb", "Oasis - Live Forever (Live at Knebworth 1996)", "Oasis", 280))
    assert score_candidate(track, knebworth).code == "live"  # "Live" is the song's own word, once

    live_track = _track("Hotel California - Live On MTV, 1994", ["Eagles"], 433, album="Hell Freezes Over")
    live = _ytm(ytm_song("hotelLive01", "Hotel California (Live on MTV, 1994)", ["Eagles"], 433))
    studio = _ytm(ytm_song("hotelStudio", "Hotel California", ["Eagles"], 431))
    assert score_candidate(live_track, live).passes(ScoreConfig())
    assert score_candidate(live_track, studio).code == "not_live"
    assert "penalty:not_live" in score_candidate(live_track, studio).detail


def test_a_remix_the_track_names_must_be_the_same_remix() -> None:
    track = _track("Titanium - Alesso Remix", ["David Guetta", "Sia"], 329)
    same = _ytdlp(ytdlp_entry("titAlesso01", "David Guetta ft. Sia - Titanium (Alesso Remix)", "Alesso", 330))
    other = _ytdlp(ytdlp_entry("titNicky001", "David Guetta ft. Sia - Titanium (Nicky Romero Remix)",
                               "Nicky Romero", 328))
    original = _ytm(ytm_song("titOrig0001", "Titanium (feat. Sia)", ["David Guetta"], 245))
    assert score_candidate(track, same).passes(ScoreConfig())
    assert score_candidate(track, other).code == "other_remix"
    assert score_candidate(track, original).code == "not_remix"


def test_a_live_album_asks_for_live_only_mildly() -> None:
    track = _track("Bohemian Rhapsody", ["Queen"], 355, album="Live at Wembley '86")
    scored = score_candidate(track, _ytm(ytm_song("bohoPlain01", "Bohemian Rhapsody", ["Queen"], 355)))
    assert scored.rejected is None and scored.detail["penalty:not_live"] == 0.25
    # "Live Through This" is an album name, not a live album
    hole = _track("Doll Parts", ["Hole"], 211, album="Live Through This")
    atv = _ytm(ytm_song("dollParts01", "Doll Parts", ["Hole"], 211, album="Live Through This"))
    scored = score_candidate(hole, atv)
    assert scored.passes(ScoreConfig()) and not any(k.startswith("penalty") for k in scored.detail)


def test_the_channel_can_say_what_the_video_is() -> None:
    track = _track("Blinding Lights", ["The Weeknd"], 200)
    for channel, code in (("Nightcore Reality", "nightcore"), ("Sing King", "karaoke"), ("Sped Up Songs", "sped_up"),
                          ("Vitamin String Quartet", "cover"), ("KEXP", "live")):
        cand = _ytdlp(ytdlp_entry("channelVid1", "The Weeknd - Blinding Lights", channel, 200))
        assert score_candidate(track, cand).code == code, channel
    lofi = _ytdlp(ytdlp_entry("lofiGirl001", "The Weeknd - Blinding Lights", "Lofi Girl", 200))
    assert score_candidate(track, lofi).passes(ScoreConfig())  # a channel name that says nothing


def test_unknown_duration_is_neutral_not_a_rejection() -> None:
    track = _track("Song Title", ["Artist Name"], None)
    scored = score_candidate(track, _ytm(ytm_song("songTitle01", "Song Title", ["Artist Name"], 200)))
    assert scored.rejected is None and scored.detail["duration"] == 0.5 and "duration_diff_s" not in scored.detail


def test_vevo_and_artist_named_channels_count_as_official() -> None:
    track = _track("Hello", ["Adele"], 295)
    vevo = _ytdlp(ytdlp_entry("helloVevo01", "Adele - Hello (Official Music Video)", "AdeleVEVO", 296))
    fan = _ytdlp(ytdlp_entry("helloFan001", "Adele - Hello (Lyrics)", "Lyrics Hub", 296))
    omv = _ytm(ytm_video("helloOmv001", "Hello", "Adele", 296, video_type=OMV), "ytmusic:videos")
    assert "bonus:official" in score_candidate(track, vevo).detail
    assert "bonus:official" in score_candidate(track, omv).detail
    assert "bonus:official" not in score_candidate(track, fan).detail
    assert score_candidate(track, vevo).rank_score > score_candidate(track, fan).rank_score


def test_ranking_uses_the_uncapped_score_so_the_official_bonus_always_counts() -> None:
    track = _track("Hello", ["Adele"], 295)
    topic = _ytm(ytm_song("helloTopic1", "Hello", ["Adele"], 295), rank_=3)
    vevo = _ytdlp(ytdlp_entry("helloVevo01", "Adele - Hello (Official Audio)", "AdeleVEVO", 295))
    fan = _ytdlp(ytdlp_entry("helloFan001", "Adele - Hello (Lyrics)", "Lyrics Hub", 295), 1)
    scored = [score_candidate(track, c) for c in (fan, vevo, topic)]
    assert all(s.score == 1.0 for s in scored[1:])  # the stored score is capped ...
    assert [s.video_id for s in rank(scored)] == ["helloTopic1", "helloVevo01", "helloFan001"]  # ... ranking not


def test_ties_are_broken_by_the_evidence_never_by_video_id() -> None:
    track = _track("Twin", ["Mirror"], 200)

    def video(vid: str, views: str, rank_: int) -> Candidate:
        return _ytm(ytm_video(vid, "Mirror - Twin (Lyrics)", "Lyric Vault", 200, views=views), "ytmusic:videos", rank_)

    many, few = video("zzzzzzzzzzz", "12M", 4), video("aaaaaaaaaaa", "3.1K", 0)
    for order in ([many, few], [few, many]):
        assert [s.video_id for s in rank(score_candidate(track, c) for c in order)] == ["zzzzzzzzzzz", "aaaaaaaaaaa"]
    # no view counts: closeness of length, then YouTube's own order decide, still not the ID
    close = _ytm(ytm_song("zzzzzzzzzz1", "Twin", ["Mirror"], 200), rank_=3)
    off = _ytm(ytm_song("aaaaaaaaaa1", "Twin", ["Mirror"], 201), rank_=0)
    first = _ytm(ytm_song("bbbbbbbbbbb", "Twin", ["Mirror"], 200), rank_=0)
    for order in ([close, off, first], [off, first, close], [first, close, off]):
        ranked = [s.video_id for s in rank(score_candidate(track, c) for c in order)]
        assert ranked == ["bbbbbbbbbbb", "zzzzzzzzzz1", "aaaaaaaaaa1"], ranked


def test_greyed_out_results_and_live_streams_are_never_chosen() -> None:
    track = _track("Song", ["Band"], 200)
    grey = _ytm(ytm_song("greyedOut01", "Song", ["Band"], 200, available=False))
    live = _ytdlp(ytdlp_entry("liveStream1", "Band - Song", "Band", None, live_status="is_live"))
    assert "not playable" in score_candidate(track, grey).rejected
    assert "live stream" in score_candidate(track, live).rejected


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ScoreConfig(threshold=1.5)
    with pytest.raises(ValueError, match="tolerance"):
        ScoreConfig(duration_tolerance_s=0)


def test_an_artist_name_made_of_punctuation_is_neutral_not_a_crash() -> None:
    track = _track("Heart of Hearts", ["!!!"], 300)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("chkchkchk01", "!!! - Heart of Hearts", "Warp Records", 301)))
    assert scored.detail["artist"] == 0.5 and scored.rejected is None


def test_a_song_named_like_publishing_noise_still_matches() -> None:
    track = _track("Video", ["India.Arie"], 264)
    scored = score_candidate(track, _ytdlp(ytdlp_entry("indiaArie01", "India.Arie - Video (Official Video)",
                                                       "IndiaArieVEVO", 265)))
    assert scored.detail["title"] == 1.0 and scored.passes(ScoreConfig())


def test_a_guest_the_track_does_not_have_or_lacks_makes_another_recording() -> None:
    track = _track("bad guy", ["Billie Eilish"], 194)
    bieber = _ytm(ytm_song("badGuyJB001", "bad guy (with Justin Bieber)", ["Billie Eilish", "Justin Bieber"], 194))
    assert score_candidate(track, bieber).code == "other_guest"
    levitating = _track("Levitating (feat. DaBaby)", ["Dua Lipa", "DaBaby"], 203)
    album = _ytm(ytm_song("levAlbum001", "Levitating", ["Dua Lipa"], 203))
    assert score_candidate(levitating, album).code == "not_guest"
    # a fan upload may leave the guest out of its title: only official audio is held to it
    lyrics = _ytdlp(ytdlp_entry("levLyrics01", "Dua Lipa - Levitating (Lyrics)", "Pop Lyrics", 203))
    assert score_candidate(levitating, lyrics).passes(ScoreConfig())
    credited = _ytdlp(ytdlp_entry("levFeat0001", "Dua Lipa - Levitating ft. DaBaby (Lyrics)", "Pop Lyrics", 203))
    assert score_candidate(levitating, credited).passes(ScoreConfig())


def test_another_concert_is_not_the_live_recording_the_track_names() -> None:
    track = _track("Hotel California - Live On MTV, 1994", ["Eagles"], 432)
    other = _ytdlp(ytdlp_entry("hotel197701", "Eagles - Hotel California (Live 1977) (Official Video) [HD]",
                               "Eagles", 439))
    same = _ytdlp(ytdlp_entry("hotelMtv001", "Eagles - Hotel California (Live On MTV 1994) [Hell Freezes Over]",
                              "Classic Rock Vault", 434))
    assert score_candidate(track, other).code == "other_live"
    assert score_candidate(track, same).passes(ScoreConfig())


def test_lengths_within_two_seconds_are_the_same_length() -> None:
    track = _track("Twin", ["Mirror"], 200)
    for seconds, expected in ((200, 1.0), (202, 1.0), (206, 0.5), (210, 0.0)):
        scored = score_candidate(track, _ytm(ytm_song("lengthTest1", "Twin", ["Mirror"], seconds)))
        assert scored.detail["duration"] == expected, seconds
