"""Scoring one candidate against catalogue metadata: the choices a careful person would make."""

from __future__ import annotations

import pytest

from collectors.youtube.score import ScoreConfig, markers_in, rank, score_candidate
from collectors.youtube.search import TrackQuery, candidate_from_ytdlp, candidate_from_ytmusic
from tests.youtube.fixtures import BLINDING, OMV, ytdlp_entry, ytm_song, ytm_video


def _track(title: str, artists: list[str], seconds: float | None, album: str | None = None) -> TrackQuery:
    return TrackQuery("t0000000000001", title, tuple(artists), album, seconds, None)


def _songs(items, source="ytmusic:songs"):
    return [candidate_from_ytmusic(item, source) for item in items]


def _blinding():
    track = TrackQuery.from_row(BLINDING["track"])
    cands = _songs(BLINDING["songs"]) + _songs(BLINDING["videos"], "ytmusic:videos")
    return track, {s.video_id: s for s in (score_candidate(track, c) for c in cands)}


def test_official_audio_beats_every_other_upload_of_the_song() -> None:
    track, scored = _blinding()
    ranked = rank(scored.values())
    assert ranked[0].video_id == "atvBlindL01"
    assert ranked[0].detail["bonus:topic"] > 0 and ranked[0].score == pytest.approx(1.0)
    order = [s.video_id for s in ranked if s.passes(ScoreConfig())]
    # official audio on the artist's channel, then a fan lyric video; versions come after
    assert order[:3] == ["atvBlindL01", "audioBlind1", "lyricBlind1"]
    assert scored["audioBlind1"].detail.get("bonus:official")
    assert scored["lyricBlind1"].score > scored["liveBlindL1"].score > scored["coverBlind1"].score


@pytest.mark.parametrize("video_id, marker", [
    ("liveBlindL1", "live"), ("coverBlind1", "cover"), ("karaokeBL01", "karaoke"),
    ("nightcore01", "nightcore"), ("hourBlindL1", "loop"), ("spedUpAtv01", "sped_up"),
])
def test_versions_the_track_does_not_ask_for_are_penalised(video_id: str, marker: str) -> None:
    _, scored = _blinding()
    assert f"penalty:{marker}" in scored[video_id].detail
    assert not scored[video_id].passes(ScoreConfig()) or scored[video_id].score < 0.8


def test_an_hour_long_loop_and_a_music_video_with_intro_are_rejected_on_duration() -> None:
    _, scored = _blinding()
    assert "duration differs by 3400 s" in scored["hourBlindL1"].rejected
    # the official video is 62 s longer than the track (intro and outro): a different edit
    assert "duration differs by 62 s" in scored["omvBlindL01"].rejected


def test_same_title_by_another_artist_is_rejected_even_with_perfect_duration() -> None:
    _, scored = _blinding()
    assert scored["wrongArtst1"].detail["title"] == pytest.approx(1.0)
    assert scored["wrongArtst1"].rejected.startswith("artist differs")


def test_a_translated_title_is_not_taken_for_the_original() -> None:
    _, scored = _blinding()
    assert scored["japaneseT01"].rejected.startswith("title differs")


def test_titles_in_their_own_script_match_after_normalisation() -> None:
    track = _track("紅蓮華", ["LiSA"], 239)
    good = candidate_from_ytmusic(ytm_song("gurengeAtv1", "紅蓮華", ["LiSA"], 239), "ytmusic:songs")
    romanised = candidate_from_ytmusic(ytm_song("gurengeRom1", "Gurenge", ["LiSA"], 239), "ytmusic:songs")
    assert score_candidate(track, good).passes(ScoreConfig())
    assert score_candidate(track, romanised).rejected.startswith("title differs")


def test_accents_case_and_word_order_do_not_matter() -> None:
    track = _track("Bésame Mucho", ["Consuelo Velázquez"], 180)
    cand = candidate_from_ytdlp(ytdlp_entry("besameMuch1", "MUCHO BESAME - consuelo velazquez", "Oldies", 181))
    scored = score_candidate(track, cand)
    assert scored.detail["title"] == pytest.approx(1.0) and scored.detail["artist"] == pytest.approx(1.0)


def test_markers_are_whole_words_so_alive_is_not_live() -> None:
    assert "live" not in markers_in("Pearl Jam - Alive (Official Audio)")
    assert "live" in markers_in("Alive (Live at Pinkpop)")
    assert "cover" not in markers_in("Undercover Martyn")
    assert "remix" not in markers_in("Remixture")
    assert "8d" in markers_in("Song [8D AUDIO]")
    assert "loop" in markers_in("Song (10 hours)")
    track = _track("Alive", ["Pearl Jam"], 341)
    cand = candidate_from_ytmusic(ytm_video("aliveAudio1", "Pearl Jam - Alive (Official Audio)", "Pearl Jam", 341),
                                  "ytmusic:videos")
    scored = score_candidate(track, cand)
    assert not any(k.startswith("penalty") for k in scored.detail) and scored.passes(ScoreConfig())


def test_a_version_the_track_asks_for_is_not_penalised_and_beats_the_studio_take() -> None:
    track = _track("Live Forever", ["Oasis"], 276)
    cand = candidate_from_ytmusic(ytm_song("liveForever", "Live Forever", ["Oasis"], 276), "ytmusic:songs")
    assert "penalty:live" not in score_candidate(track, cand).detail

    live_track = _track("Hotel California - Live On MTV, 1994", ["Eagles"], 433, album="Hell Freezes Over")
    live = candidate_from_ytmusic(ytm_song("hotelLive01", "Hotel California (Live on MTV, 1994)", ["Eagles"], 433),
                                  "ytmusic:songs")
    studio = candidate_from_ytmusic(ytm_song("hotelStudio", "Hotel California", ["Eagles"], 431), "ytmusic:songs")
    assert rank([score_candidate(live_track, studio), score_candidate(live_track, live)])[0].video_id == "hotelLive01"
    assert "penalty:not_live" in score_candidate(live_track, studio).detail


def test_unknown_duration_is_neutral_not_a_rejection() -> None:
    track = _track("Song Title", ["Artist Name"], None)
    cand = candidate_from_ytmusic(ytm_song("songTitle01", "Song Title", ["Artist Name"], 200), "ytmusic:songs")
    scored = score_candidate(track, cand)
    assert scored.rejected is None and scored.detail["duration"] == 0.5 and "duration_diff_s" not in scored.detail


def test_vevo_and_artist_named_channels_count_as_official() -> None:
    track = _track("Hello", ["Adele"], 295)
    vevo = candidate_from_ytdlp(ytdlp_entry("helloVevo01", "Adele - Hello (Official Music Video)", "AdeleVEVO", 296))
    fan = candidate_from_ytdlp(ytdlp_entry("helloFan001", "Adele - Hello (Lyrics)", "Lyrics Hub", 296))
    omv = candidate_from_ytmusic(ytm_video("helloOmv001", "Hello", "Adele", 296, video_type=OMV), "ytmusic:videos")
    assert "bonus:official" in score_candidate(track, vevo).detail
    assert "bonus:official" in score_candidate(track, omv).detail
    assert "bonus:official" not in score_candidate(track, fan).detail
    assert score_candidate(track, vevo).score > score_candidate(track, fan).score


def test_ties_are_broken_by_video_id_whatever_the_input_order() -> None:
    track = _track("Twin", ["Mirror"], 200)
    a = candidate_from_ytmusic(ytm_song("bbbbbbbbbbb", "Twin", ["Mirror"], 200), "ytmusic:songs")
    b = candidate_from_ytmusic(ytm_song("aaaaaaaaaaa", "Twin", ["Mirror"], 200), "ytmusic:songs")
    first = rank([score_candidate(track, a), score_candidate(track, b)])
    second = rank([score_candidate(track, b), score_candidate(track, a)])
    assert [s.video_id for s in first] == [s.video_id for s in second] == ["aaaaaaaaaaa", "bbbbbbbbbbb"]


def test_greyed_out_results_and_live_streams_are_never_chosen() -> None:
    track = _track("Song", ["Band"], 200)
    grey = candidate_from_ytmusic(ytm_song("greyedOut01", "Song", ["Band"], 200, available=False), "ytmusic:songs")
    live = candidate_from_ytdlp(ytdlp_entry("liveStream1", "Band - Song", "Band", None, live_status="is_live"))
    assert "not playable" in score_candidate(track, grey).rejected
    assert "live stream" in score_candidate(track, live).rejected


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ScoreConfig(threshold=1.5)
    with pytest.raises(ValueError, match="tolerance"):
        ScoreConfig(duration_tolerance_s=0)


def test_an_artist_name_made_of_punctuation_is_neutral_not_a_crash() -> None:
    track = _track("Heart of Hearts", ["!!!"], 300)
    cand = candidate_from_ytdlp(ytdlp_entry("chkchkchk01", "!!! - Heart of Hearts", "Warp Records", 301))
    scored = score_candidate(track, cand)
    assert scored.detail["artist"] == 0.5 and scored.rejected is None


def test_a_song_named_like_publishing_noise_still_matches() -> None:
    track = _track("Video", ["India.Arie"], 264)
    cand = candidate_from_ytdlp(ytdlp_entry("indiaArie01", "India.Arie - Video (Official Video)", "IndiaArieVEVO", 265))
    scored = score_candidate(track, cand)
    assert scored.detail["title"] == 1.0 and scored.passes(ScoreConfig())
