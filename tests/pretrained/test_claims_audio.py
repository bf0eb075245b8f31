"""`python -m training claims-audio`: tagger genres as `audio` claims, ignored by resolve unless enabled.

A real string-orchestra excerpt with no claim gets an `audio` claim of a taxonomy genre;
a track another source knows is left alone; `labeling resolve` leaves the unknown track
unlabelled by default and labels it from the audio claim with `--source-weight audio=W`.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("keras")

from labeling.cli import main as labeling_main
from labeling.taxonomy import load_taxonomy
from manifests import Layout
from manifests.audio import decode_audio
from tests.conftest import SHARED
from tests.fixtures.corpus import SR, claim_row, download_row, read_rows, track_row, write_tables
from training.cli import main

ORCHESTRA = "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg"


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    if not SHARED.is_dir():
        pytest.fail(f"shared folder not found beside the checkout ({SHARED}); CI provides ../shared")
    layout = Layout.at(tmp_path_factory.mktemp("claims-audio"))
    music = decode_audio(SHARED / "real-audio" / ORCHESTRA, SR)[: SR * 12]
    write_tables(layout, tracks=[track_row("t-unknown", "Dance"), track_row("t-known", "Tune")],
                 claims=[claim_row("t-known", "playlist", "jazz")],
                 downloads=[download_row(layout, "t-unknown", samples=music),
                            download_row(layout, "t-known", seconds=4.0)])
    assert main(["claims-audio", "--data", str(layout.root), "--max-patches", "3", "-q"]) == 0
    return layout


def test_an_unknown_track_gets_audio_claims_of_taxonomy_genres(tagged: Layout) -> None:
    claims = read_rows(tagged, "claims")
    audio = [c for c in claims if c["source"] == "audio"]
    assert audio and {c["track_id"] for c in audio} == {"t-unknown"}  # the known track is not tagged
    taxonomy = load_taxonomy()
    genres = [taxonomy.map(c["raw_genre"]) for c in audio]
    assert None not in genres and "classical" in genres
    assert all(0 < c["weight"] <= 1 for c in audio)
    assert {c["evidence"] for c in audio} <= {"musicnn-MSD taggram", "musicnn-MTT taggram"}
    assert [c for c in claims if c["source"] == "playlist"] == [claim_row("t-known", "playlist", "jazz")
                                                                | {"detail": None}]


def test_a_rerun_replaces_its_claims_and_computes_nothing(tagged: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    before = [c for c in read_rows(tagged, "claims") if c["source"] == "audio"]
    assert main(["claims-audio", "--data", str(tagged.root), "--max-patches", "3", "--top", "1",
                 "--pretrained", "musicnn-MTT", "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    after = [c for c in read_rows(tagged, "claims") if c["source"] == "audio"]
    assert result["tracks"] == 1 and len(after) == 1 == result["claims"]
    assert after[0] == max((c for c in before if c["evidence"] == "musicnn-MTT taggram"), key=lambda c: c["weight"])


def test_resolve_ignores_audio_claims_unless_enabled(tagged: Layout) -> None:
    assert labeling_main(["resolve", "--data", str(tagged.root), "-q"]) == 0
    labels = {r["track_id"]: r for r in read_rows(tagged, "labels")}
    assert labels["t-unknown"]["status"] == "unlabeled" and labels["t-known"]["top_genre"] == "jazz"
    assert labeling_main(["resolve", "--data", str(tagged.root), "--source-weight", "audio=0.2", "-q"]) == 0
    labels = {r["track_id"]: r for r in read_rows(tagged, "labels")}
    assert labels["t-unknown"]["status"] == "ok" and labels["t-unknown"]["top_genre"] == "classical"
    assert labels["t-unknown"]["sources"]["classical"] == ["audio"]
