"""The review app through FastAPI's TestClient: listing, filters, search, paging, audio ranges, security,
and decisions written to overrides.csv (undoable, honoured by resolve)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from labeling.cli import main as labeling_main
from labeling.review.app import create_app
from manifests.layout import Layout
from tests.fixtures.corpus import read_rows

from .conftest import CHOSEN, ORIGIN, RUNNER_UP, TRACKS

ALL_IDS = sorted(t[0] for t in TRACKS)


def ids(client: TestClient, **params: object) -> list[str]:
    reply = client.get("/api/tracks", params={"per_page": 500, **params})
    assert reply.status_code == 200, reply.text
    return [row["track_id"] for row in reply.json()["rows"]]


# ---------------------------------------------------------------- the table

def test_table_lists_every_track_and_pages_through_them(ro_client: TestClient) -> None:
    assert ids(ro_client) == ALL_IDS
    first = ro_client.get("/api/tracks", params={"per_page": 3}).json()
    assert (first["total"], first["pages"]) == (len(ALL_IDS), 3)
    pages = [ids(ro_client, per_page=3, page=n) for n in (1, 2, 3)]
    assert sum(pages, []) == ALL_IDS
    assert ids(ro_client, per_page=3, page=99) == ALL_IDS[6:]  # past the end: the last page
    page = ro_client.get("/", params={"per_page": 3, "page": 2})
    assert page.status_code == 200 and "page 2 of 3" in page.text
    assert all(f"/track/{t}" in page.text for t in ALL_IDS[3:6]) and f"/track/{ALL_IDS[0]}" not in page.text


@pytest.mark.parametrize(("params", "expected"), [
    ({"genre": "jazz"}, ["rv-jazz1", "rv-jazz2"]),
    ({"split": "test"}, ["rv-jazz2", "rv-rock2"]),
    ({"split": "none"}, ["rv-nomatch"]),
    ({"source": "musicbrainz"}, ["rv-jazz1", "rv-metal1", "rv-rock2", "rv-nomatch"]),
    ({"flag": "any"}, ["rv-metal1", "rv-rock2"]),
    ({"flag": "duration_outlier"}, ["rv-metal1"]),
    ({"max_score": "0.8"}, ["rv-rock2", "rv-rock3"]),
    ({"disagree": "1"}, ["rv-rock3"]),
    ({"wrong": "1"}, ["rv-jazz2"]),
    ({"q": "rollers"}, ["rv-rock1", "rv-rock2"]),
    ({"q": "BLUE NIGHT"}, ["rv-jazz1"]),
    ({"q": "rv-metal"}, ["rv-metal1"]),
    ({"q": "rollers", "split": "test"}, ["rv-rock2"]),
    ({"genre": "rock", "max_score": "0.8", "sort": "score"}, ["rv-rock2", "rv-rock3"]),
    ({"genre": "rock", "sort": "-score"}, ["rv-rock1", "rv-rock3", "rv-rock2", "rv-nomatch"]),
    ({"genre": "polka"}, []),
])
def test_filters_and_search(ro_client: TestClient, params: dict[str, str], expected: list[str]) -> None:
    got = ids(ro_client, **params)
    assert got == (expected if "sort" in params else sorted(expected))


def test_the_table_page_offers_the_filters_and_shows_the_columns(ro_client: TestClient) -> None:
    page = ro_client.get("/", params={"genre": "rock"}).text
    for option in ('value="jazz"', 'value="musicbrainz"', 'value="duration_outlier"', 'name="disagree"',
                   'name="wrong"'):
        assert option in page
    assert "4 tracks" in page and "0.520" in page and "low_match_score" in page


@pytest.mark.parametrize("params", [{"page": "abc"}, {"page": "0"}, {"sort": "bogus"}, {"per_page": "100000"},
                                    {"max_score": "x"}, {"reviewed": "maybe"}])
def test_bad_table_parameters_are_400_with_a_message(ro_client: TestClient, params: dict[str, str]) -> None:
    for url in ("/", "/api/tracks"):
        reply = ro_client.get(url, params=params)
        assert reply.status_code == 400
        assert next(iter(params)) in reply.json()["error"]


def test_tables_are_reloaded_when_their_files_change(app_client: TestClient, review_folder: Layout) -> None:
    tracks = review_folder.table_path("tracks")
    text = tracks.read_text(encoding="utf-8")
    tracks.write_text(text.replace("Highway Song", "Motorway Hymn"), encoding="utf-8")
    assert ids(app_client, q="motorway") == ["rv-rock1"]


# ---------------------------------------------------------------- the track page

def test_track_page_shows_claims_labels_match_and_prediction(ro_client: TestClient) -> None:
    page = ro_client.get("/track/rv-jazz2", params={"genre": "jazz"})
    assert page.status_code == 200
    text = page.text
    for expected in ("So What Now", "Miles Away", "pl-jazz", "playlist", CHOSEN, RUNNER_UP,
                     "0.88", "0.78", "predicts <b class=\"wrong\">rock</b>", 'src="/audio/rv-jazz2"',
                     'src="/image/rv-jazz2.png"', "Keyboard shortcuts"):
        assert expected in text, expected
    assert 'data-previous="/track/rv-jazz1?genre=jazz"' in text  # j/k walk the filtered list
    detail = ro_client.get("/api/track/rv-jazz2").json()
    assert detail["genres"] == {"jazz": 1.0} and detail["download"]["runner_up_id"] == RUNNER_UP
    assert detail["model"]["predicted"] == "rock"
    other = ro_client.get("/track/rv-jazz1").text
    assert "mb-rv-jazz1" in other and "4 votes" in other and "musicbrainz" in other


def test_spectrogram_is_a_png_drawn_once(app_client: TestClient, review_folder: Layout) -> None:
    reply = app_client.get("/image/rv-rock1.png")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert reply.content.startswith(b"\x89PNG")
    cached = list((review_folder.cache / "review").glob("rv-rock1-*.png"))
    assert len(cached) == 1
    assert app_client.get("/image/rv-rock1.png").content == reply.content
    assert app_client.get("/image/rv-nomatch.png").status_code == 404


# ---------------------------------------------------------------- audio

def test_audio_is_served_whole_and_by_range(ro_client: TestClient, ro_folder: Layout) -> None:
    data = ro_folder.audio_path("rv-rock1").read_bytes()
    whole = ro_client.get("/audio/rv-rock1")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "audio/wav"
    part = ro_client.get("/audio/rv-rock1", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = ro_client.get("/audio/rv-rock1", headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == data[-16:]
    rest = ro_client.get("/audio/rv-rock1", headers={"Range": f"bytes={len(data) - 10}-"})
    assert rest.status_code == 206 and rest.content == data[-10:]


@pytest.mark.parametrize("bad", ["bytes={size}-", "bytes={size}-{end}", "bytes=500-100", "bytes=abc",
                                 "items=0-10", "bytes=-0"])
def test_bad_ranges_are_416(ro_client: TestClient, ro_folder: Layout, bad: str) -> None:
    size = ro_folder.audio_path("rv-rock1").stat().st_size
    reply = ro_client.get("/audio/rv-rock1", headers={"Range": bad.format(size=size, end=size + 10)})
    assert reply.status_code == 416
    assert reply.headers["content-range"] == f"bytes */{size}" and "error" in reply.json()


@pytest.mark.parametrize("path", ["/audio/..%2Fmanifests%2Ftracks.csv", "/audio/..%2F..%2F..%2Fetc%2Fpasswd",
                                  "/audio/%2e%2e", "/audio/rv-unknown", "/audio/RV-ROCK1", "/image/rv-unknown.png",
                                  "/track/rv-unknown", "/api/track/..%2Fx", "/audio/rv-nomatch"])
def test_only_tracks_of_the_manifest_are_served(ro_client: TestClient, path: str) -> None:
    reply = ro_client.get(path)
    assert reply.status_code == 404
    assert reply.json()["error"]


def test_audio_linked_out_of_the_data_folder_is_not_served(app_client: TestClient, review_folder: Layout,
                                                           tmp_path: object) -> None:
    secret = review_folder.root.parent / "secret.wav"
    secret.write_bytes(b"RIFF not yours")
    link = review_folder.audio_path("rv-rock1")
    link.unlink()
    link.symlink_to(secret)
    assert app_client.get("/audio/rv-rock1").status_code == 404


# ---------------------------------------------------------------- security of decisions

@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": None, "X-CSRF-Token": "keep"}, 403),
    ({"Origin": "http://evil.example", "X-CSRF-Token": "keep"}, 403),
    ({"Origin": "http://127.0.0.1:9999", "X-CSRF-Token": "keep"}, 403),
    ({"X-CSRF-Token": None}, 403),
    ({"X-CSRF-Token": "wrong"}, 403),
])
def test_decisions_need_the_same_origin_and_the_token(app_client: TestClient, review_folder: Layout,
                                                      headers: dict[str, str | None], status: int) -> None:
    for name, value in headers.items():
        if value is None:
            del app_client.headers[name]
        elif value != "keep":
            app_client.headers[name] = value
    for url in ("/api/action", "/api/undo"):
        reply = app_client.post(url, json={"track_id": "rv-rock1", "action": "drop"})
        assert reply.status_code == status and reply.json()["error"]
    assert [r["track_id"] for r in read_rows(review_folder, "overrides")] == []


def test_requests_for_another_host_name_are_refused(ro_client: TestClient) -> None:
    reply = ro_client.get("/", headers={"Host": "attacker.example"})
    assert reply.status_code == 400 and "Host" in reply.json()["error"]


def test_pages_forbid_framing_and_foreign_scripts(ro_client: TestClient) -> None:
    headers = ro_client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]


# ---------------------------------------------------------------- decisions

def post(client: TestClient, track_id: str, action: str, value: str = "", note: str = "") -> dict:
    reply = client.post("/api/action", json={"track_id": track_id, "action": action, "value": value, "note": note})
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize(("action", "value", "stored"), [
    ("drop", "", None),
    ("set_genres", "blues=1; rock=0.5", "blues=1; rock=0.5"),
    ("set_genres", "jazz", "jazz=1"),
    ("add_genre", "blues", "blues"),
    ("remove_genre", "rock", "rock"),
    ("pin_video", RUNNER_UP, RUNNER_UP),
    ("forbid_video", CHOSEN, CHOSEN),
])
def test_each_action_writes_overrides_and_undo_restores_them(app_client: TestClient, review_folder: Layout,
                                                             action: str, value: str, stored: str | None) -> None:
    path = review_folder.overrides
    path.write_text("track_id,action,value,note\nrv-jazz1,drop,,by hand\n", encoding="utf-8")
    before = path.read_bytes()
    reply = post(app_client, "rv-rock1", action, value, note="heard it")
    rows = read_rows(review_folder, "overrides")
    assert rows[0]["note"] == "by hand"  # the user's rows stay first, in their order
    assert rows[1:] == [{"track_id": "rv-rock1", "action": action, "value": stored, "note": "heard it"}]
    assert reply["counts"]["reviewed"] == 1 and reply["undo_depth"] == 1
    assert ids(app_client, reviewed="yes") == ["rv-rock1"]
    undone = app_client.post("/api/undo").json()
    assert undone["undone"]["action"] == action and undone["counts"]["reviewed"] == 0
    assert path.read_bytes() == before
    assert ids(app_client, reviewed="yes") == []
    assert app_client.post("/api/undo").json()["undone"] is None


def test_accept_marks_reviewed_without_an_override(app_client: TestClient, review_folder: Layout) -> None:
    post(app_client, "rv-jazz1", "accept")
    post(app_client, "rv-jazz2", "accept")
    assert not review_folder.overrides.exists()
    marker = (review_folder.root / "reports" / "review" / "reviewed.csv").read_text(encoding="utf-8")
    assert marker.splitlines()[0] == "track_id,decision,reviewed_at" and "rv-jazz2,accept," in marker
    assert app_client.get("/api/counts", params={"genre": "jazz"}).json() == {
        "reviewed": 2, "total": len(TRACKS), "in_view": 2, "reviewed_in_view": 2}
    app_client.post("/api/undo")
    assert ids(app_client, reviewed="yes") == ["rv-jazz1"]
    assert ids(app_client, reviewed="no", genre="jazz") == ["rv-jazz2"]


def test_a_decision_replaces_the_row_it_contradicts_and_undo_brings_it_back(app_client: TestClient,
                                                                           review_folder: Layout) -> None:
    post(app_client, "rv-rock1", "remove_genre", "rock")
    post(app_client, "rv-rock1", "forbid_video", CHOSEN)
    before = review_folder.overrides.read_bytes()
    post(app_client, "rv-rock1", "add_genre", "rock")
    assert [(r["action"], r["value"]) for r in read_rows(review_folder, "overrides")] == [
        ("forbid_video", CHOSEN), ("add_genre", "rock")]
    app_client.post("/api/undo")
    assert review_folder.overrides.read_bytes() == before


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"track_id": "rv-rock1", "action": "explode"}, 400, "unknown action"),
    ({"track_id": "rv-rock1", "action": "add_genre", "value": "polka-step"}, 400, "unknown genre"),
    ({"track_id": "rv-rock1", "action": "set_genres", "value": "rock=2"}, 400, "outside [0, 1]"),
    ({"track_id": "rv-rock1", "action": "pin_video", "value": "../etc"}, 400, "not a YouTube video ID"),
    ({"track_id": "rv-rock1", "action": "drop", "value": "x"}, 400, "takes no value"),
    ({"track_id": "rv-unknown", "action": "drop"}, 404, "no track"),
    ({"track_id": "../x", "action": "drop"}, 404, "no track"),
])
def test_bad_decisions_are_refused_and_nothing_is_written(app_client: TestClient, review_folder: Layout,
                                                          body: dict[str, str], status: int, words: str) -> None:
    reply = app_client.post("/api/action", json=body)
    assert reply.status_code == status and words in reply.json()["error"]
    assert not review_folder.overrides.exists()
    not_json = app_client.post("/api/action", content=b"track_id=rv-rock1",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415


def test_resolve_honours_the_decisions(app_client: TestClient, review_folder: Layout) -> None:
    post(app_client, "rv-rock1", "set_genres", "blues=1; rock=0.5")
    post(app_client, "rv-jazz1", "add_genre", "blues")
    post(app_client, "rv-metal1", "drop", note="not music")
    assert labeling_main(["resolve", "--data", str(review_folder.root), "-q"]) == 0
    labels = {r["track_id"]: r for r in read_rows(review_folder, "labels")}
    assert labels["rv-rock1"]["genres"] == {"blues": 1.0, "rock": 0.5}
    assert set(labels["rv-jazz1"]["genres"]) == {"jazz", "blues"}
    assert labels["rv-metal1"]["status"] == "dropped" and "not music" in labels["rv-metal1"]["reason"]
    # the app sees the new labels without a restart
    assert ids(app_client, status="dropped") == ["rv-metal1"]
    assert "rv-rock1" in ids(app_client, genre="blues")


def test_a_folder_busy_with_another_writer_is_409(app_client: TestClient, review_folder: Layout) -> None:
    from manifests.lock import data_folder_lock

    with data_folder_lock(review_folder.root, "labeling resolve"):
        reply = app_client.post("/api/action", json={"track_id": "rv-rock1", "action": "drop"})
    assert reply.status_code == 409 and "labeling resolve" in reply.json()["error"]


# ---------------------------------------------------------------- the command

def test_the_command_prints_its_url_and_serves(review_folder: Layout) -> None:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "labeling", "review", "--data", str(review_folder.root),
                             "--port", "0", "--run", "r1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("review: 8 tracks") and "http://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        assert httpx.get(url + "api/tracks", params={"wrong": "1"}).json()["rows"][0]["track_id"] == "rv-jazz2"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_command_names_a_missing_run_or_table(tmp_path: object, review_folder: Layout) -> None:
    bad_run = subprocess.run([sys.executable, "-m", "labeling", "review", "--data", str(review_folder.root),
                              "--run", "nope"], capture_output=True, text=True, timeout=60)
    assert bad_run.returncode == 2 and "--run nope" in bad_run.stderr
    empty = review_folder.root.parent / "empty"
    empty.mkdir()
    missing = subprocess.run([sys.executable, "-m", "labeling", "review", "--data", str(empty)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "tracks.csv not found" in missing.stderr


def test_create_app_reads_the_folder_once(review_folder: Layout) -> None:
    app = create_app(review_folder)
    assert len(app.state.data) == len(TRACKS)
    assert not app.state.data.refresh()  # nothing changed: nothing reloaded
    with TestClient(app, base_url=ORIGIN) as client:
        assert client.get("/").status_code == 200
