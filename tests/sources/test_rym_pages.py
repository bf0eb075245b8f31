"""Saved RateYourMusic pages as a browser really saves them: track lists, pages that are no release,
names written differently on both sides, artist pages leading to releases, and the per-page report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from collectors.sources.rym import RymSource, SavedPages, parse_page
from tests.sources.rym_html import (
    CHALLENGE,
    LOGIN,
    artist_page,
    not_found_page,
    release_page,
    release_search_page,
    search_page,
)

DESERT = ["Crawl Home", "Noses in Roses, Forever", "Far East for the Trees", "If You Run", "Move Together",
          "Easier Said Than Done", "Chic Tweetz", "Something You Can't See", "Don't Cry, It's Only Music",
          "Ratchet Blade", "I'm Stuck", "Rose & Thorn", "Kiss My Mind"]


def track(tid: str, artists: list[str], title: str, album: str | None = None) -> dict:
    return {"track_id": tid, "artists": artists, "title": title, "album": album}


def test_the_track_list_is_the_releases_own_list_with_entities_unescaped() -> None:
    html = release_page("The Desert Sessions", "Vols. 11 & 12", ["Stoner Rock"], ["Desert Rock"], tracks=DESERT,
                        escape_twice=True)
    assert html.count('class="track"') == 28  # 13 tracks twice (wide and mobile) and two total lines
    assert "Don&amp;#39;t" in html
    page = parse_page(html)
    assert page.tracks == DESERT and page.raw_tracks == 14
    assert page.title == "Vols. 11 & 12" and page.artists == ["The Desert Sessions"]


@pytest.mark.parametrize("html, kind", [
    (not_found_page(), "not_found"),
    (release_search_page("desert sessions", [("The Desert Sessions", "Vols. 11 & 12",
                                              "/release/album/the-desert-sessions/vols-11-12/")]), "search"),
    (search_page([("Portishead", "/artist/portishead")]), "search"),
    (LOGIN, "login"),
    ("<html><head><title>Bandcamp</title></head><body><p>hello</p></body></html>", "unknown"),
])
def test_pages_that_are_no_release_are_recognised_whatever_their_address(html: str, kind: str) -> None:
    page = parse_page(html, url="https://rateyourmusic.com/release/album/nobody/nothing/")
    assert page.kind == kind and page.genres == [] and page.tracks == []


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    saved = tmp_path / "saved"
    saved.mkdir()
    pages = {
        "desert.html": release_page("The Desert Sessions", "Vols. 11 & 12", ["Stoner Rock"], ["Desert Rock"],
                                    tracks=DESERT, escape_twice=True, slug="the-desert-sessions/vols-11-12"),
        "sigur.html": release_page("Sigur Rós", "Ágætis byrjun", ["Post-Rock"], ["Dream Pop"]),
        "unmatched.html": release_page("Low", "Things We Lost in the Fire", ["Slowcore"]),
        "nogenres.html": release_page("Nobody Yet", "Brand New", []),
        # a collaboration credit the track does not carry, found through the artist's own page
        "pj-collab.html": release_page("PJ Harvey & John Parish", "A Woman a Man Walked By", ["Art Rock"],
                                       slug="pj-harvey-and-john-parish/a-woman-a-man-walked-by"),
        "pj-artist.html": artist_page("PJ Harvey", ["Art Rock", "Alternative Rock"], [
            ("A Woman a Man Walked By",
             "/release/album/pj-harvey-and-john-parish/a-woman-a-man-walked-by/"),
            ("Let England Shake", "/release/album/pj-harvey/let-england-shake/")]),
        "404.html": not_found_page(),
        "search.html": release_search_page("desert sessions", [
            ("The Desert Sessions", "Vols. 11 & 12", "/release/album/the-desert-sessions/vols-11-12/")]),
        "login.html": LOGIN,
        "challenge.html": CHALLENGE,
    }
    for name, html in pages.items():
        (saved / name).write_text(html, encoding="utf-8")
    return saved


def _report(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["page"]: row for row in csv.DictReader(fh)}


def test_names_written_differently_on_both_sides_match(folder: Path, tmp_path: Path) -> None:
    source = RymSource(pages=SavedPages(folder, tmp_path / "cache" / "pages_index.json").load())
    by_album = source.claims_for(track("t1", ["Desert Sessions"], "Crawl Home", "Vols. 11 and 12"))
    assert [(c.raw_genre, c.weight) for c in by_album] == [("Stoner Rock", 1.0), ("Desert Rock", 0.5)]
    by_tracklist = source.claims_for(track("t2", ["The Desert Sessions"], "Don’t Cry, It’s Only Music", None))
    assert "listing the track" in by_tracklist[0].detail
    accents = source.claims_for(track("t3", ["Sigur Ros"], "Svefn-g-englar", "Agaetis Byrjun (Remastered)"))
    assert [c.raw_genre for c in accents] == ["Post-Rock", "Dream Pop"]
    # no page ever claims from a 404, search, sign-in or challenge page
    assert source.claims_for(track("t4", ["Radiohead"], "Nothing", "Nothing")) == []


def test_an_artist_page_leads_to_the_release_it_lists(folder: Path, tmp_path: Path) -> None:
    source = RymSource(pages=SavedPages(folder, tmp_path / "cache" / "pages_index.json").load())
    via = source.claims_for(track("t5", ["PJ Harvey"], "Black Hearted Love", "A Woman a Man Walked By"))
    assert [(c.raw_genre, c.weight) for c in via] == [("Art Rock", 1.0)]  # release genres, full weight
    assert "through the saved artist page's discography (pj-artist.html)" in via[0].detail
    assert via[0].evidence.endswith("/release/album/pj-harvey-and-john-parish/a-woman-a-man-walked-by/")
    # the release is listed but not saved: the artist's genres at half weight, and the report asks for it
    artist_only = source.claims_for(track("t6", ["PJ Harvey"], "The Words That Maketh Murder", "Let England Shake"))
    assert [(c.raw_genre, c.weight) for c in artist_only] == [("Art Rock", 0.5), ("Alternative Rock", 0.5)]
    source.close()
    report = _report(tmp_path / "cache" / "pages_report.csv")
    assert "save the release page(s) Let England Shake <https://rateyourmusic.com/release/album/pj-harvey/" \
           "let-england-shake/>" in report["pj-artist.html"]["detail"]


def test_every_saved_page_has_an_outcome_in_the_report_also_after_a_rerun(folder: Path, tmp_path: Path) -> None:
    index = tmp_path / "cache" / "pages_index.json"
    source = RymSource(pages=SavedPages(folder, index).load())
    source.claims_for(track("t1", ["Desert Sessions"], "Crawl Home", "Vols. 11 and 12"))
    source.claims_for(track("t2", ["The Desert Sessions"], "Kiss My Mind", "Vols. 11 & 12"))
    source.claims_for(track("t5", ["PJ Harvey"], "Black Hearted Love", "A Woman a Man Walked By"))
    source.close()
    report = _report(tmp_path / "cache" / "pages_report.csv")
    assert set(report) == {p.name for p in folder.iterdir()}
    outcome = {page: (row["outcome"], row["tracks"]) for page, row in report.items()}
    assert outcome["desert.html"] == ("used", "2")
    assert outcome["pj-collab.html"] == ("used", "1") and outcome["pj-artist.html"] == ("used", "1")
    assert outcome["sigur.html"][0] == outcome["unmatched.html"][0] == "not matched"
    assert outcome["nogenres.html"][0] == "no genres"
    for page in ("404.html", "search.html", "login.html", "challenge.html"):
        assert outcome[page][0] == "not a release page", page
    assert "page not found" in report["404.html"]["detail"] and "search results" in report["search.html"]["detail"]
    assert "sign-in" in report["login.html"]["detail"] and "Cloudflare" in report["challenge.html"]["detail"]
    assert report["search.html"]["kind"] == "search" and report["challenge.html"]["kind"] == "blocked"

    # a rerun over the same folder looks nothing up again (tracks are done): the report keeps what was used
    again = RymSource(pages=SavedPages(folder, index).load())
    again.close()
    assert {p: (r["outcome"], r["tracks"]) for p, r in _report(tmp_path / "cache" / "pages_report.csv").items()} \
        == outcome
    # a changed folder starts over: every track is looked up again
    (folder / "new.html").write_text(release_page("Low", "Double Negative", ["Ambient Pop"]), encoding="utf-8")
    changed = RymSource(pages=SavedPages(folder, index).load())
    changed.close()
    rows = _report(tmp_path / "cache" / "pages_report.csv")
    assert rows["desert.html"]["outcome"] == "not matched" and rows["new.html"]["outcome"] == "not matched"
