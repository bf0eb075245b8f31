"""The RateYourMusic page parser: release, artist and song pages, and the traps in real pages."""

from __future__ import annotations

from collectors.sources.rym import claims_from_page, parse_page
from collectors.sources.rym.parser import html_of_file
from tests.sources.rym_html import CHALLENGE, IP_BLOCKED, artist_page, release_page, search_page, song_page


def names(page, primary: bool | None = None) -> list[str]:
    return [g.name for g in page.genres if primary is None or g.primary == primary]


def test_release_page_primary_secondary_ids_descriptors_and_tracks() -> None:
    html = release_page("My Bloody Valentine", "Loveless", ["Shoegaze"], ["Noise Pop", "Dream Pop"],
                        descriptors=["noisy", "ethereal", "dense"], tracks=["Only Shallow", "Loomer", "Soon"])
    page = parse_page(html)
    assert page.kind == "release"
    assert page.title == "Loveless" and page.artists == ["My Bloody Valentine"]
    assert page.url == "https://rateyourmusic.com/release/album/my-bloody-valentine/loveless/"
    assert page.release_type == "Album"
    assert names(page, True) == ["Shoegaze"] and names(page, False) == ["Noise Pop", "Dream Pop"]
    assert page.genres[0].genre_id == "Genre100" and page.genres[1].genre_id == "Genre500"
    assert page.descriptors == ["noisy", "ethereal", "dense"]
    assert page.tracks == ["Only Shallow", "Loomer", "Soon"]
    claims = claims_from_page("t000", page, "release", "test", page.url or "")
    assert [(c.raw_genre, c.weight) for c in claims] == [("Shoegaze", 1.0), ("Noise Pop", 0.5), ("Dream Pop", 0.5)]
    assert "primary [Genre100]" in claims[0].detail


def test_scenes_row_reuses_genre_classes_but_is_not_a_genre() -> None:
    html = release_page("The Stone Roses", "The Stone Roses", ["Jangle Pop", "Madchester"], ["Neo-Psychedelia"],
                        scenes=["Madchester Scene", "Manchester"])
    page = parse_page(html)
    assert names(page) == ["Jangle Pop", "Madchester", "Neo-Psychedelia"]
    # even when the scene links look exactly like genre links, the row header decides
    tricky = parse_page(release_page("The Stone Roses", "The Stone Roses", ["Jangle Pop"], scenes=["Baggy"],
                                     scene_href="/genre/{}/"))
    assert names(tricky) == ["Jangle Pop"]


def test_missing_secondary_genres_and_a_page_without_genres() -> None:
    page = parse_page(release_page("Burial", "Untrue", ["Future Garage"]))
    assert names(page, True) == ["Future Garage"] and page.secondary == []
    bare = parse_page(release_page("Nobody", "Nothing", []))
    assert bare.kind == "release" and bare.genres == []


def test_unicode_names_survive() -> None:
    page = parse_page(release_page("Sigur Rós", "Ágætis byrjun", ["Post-Rock"], ["Dream Pop", "Ambient Pop"]))
    assert page.artists == ["Sigur Rós"] and page.title == "Ágætis byrjun"
    cjk = parse_page(song_page("坂本龍一", "戦場のメリークリスマス", ["Ambient", "Modern Classical"], album="音楽図鑑"))
    assert cjk.kind == "song" and cjk.title == "戦場のメリークリスマス" and cjk.artists == ["坂本龍一"]
    assert cjk.album == "音楽図鑑" and names(cjk) == ["Ambient", "Modern Classical"]


def test_artist_page_reads_only_the_genres_row_and_the_discography() -> None:
    page = parse_page(artist_page("Björk", ["Art Pop", "Electronic"],
                                  [("Homogenic", "/release/album/bjork/homogenic/"), ("Post", "/release/album/bjork/post/")]))
    assert page.kind == "artist" and page.title == "Björk"
    assert names(page) == ["Art Pop", "Electronic"]  # not "Jazz" from the Notes row
    assert page.discography == [("Homogenic", "https://rateyourmusic.com/release/album/bjork/homogenic/"),
                                ("Post", "https://rateyourmusic.com/release/album/bjork/post/")]
    claims = claims_from_page("t000", page, "artist", "test", page.url or "")
    assert {c.weight for c in claims} == {0.5}  # an artist page speaks about the artist, not the track


def test_song_page_primary_and_secondary() -> None:
    page = parse_page(song_page("Massive Attack", "Teardrop", ["Trip Hop"], ["Downtempo"], album="Mezzanine"))
    assert page.kind == "song" and page.title == "Teardrop" and page.album == "Mezzanine"
    assert names(page, True) == ["Trip Hop"] and names(page, False) == ["Downtempo"]


def test_search_page_lists_artists() -> None:
    page = parse_page(search_page([("Portishead", "/artist/portishead"), ("Portishead Tribute", "/artist/pt")]))
    assert page.kind == "search"
    assert page.results[0] == ("Portishead", "https://rateyourmusic.com/artist/portishead")


def test_malformed_html_never_raises() -> None:
    full = release_page("Slowdive", "Souvlaki", ["Shoegaze", "Dream Pop"], ["Ambient Pop"], tracks=["Alison"])
    cut = full[: full.index("release_sec_genres") + 25]  # saved while loading: cut inside the secondary block
    page = parse_page(cut)
    assert page.kind == "release" and names(page, True) == ["Shoegaze", "Dream Pop"]
    for junk in ("", "<<<>>>", "<html><body><tr class='release_genres'><td><span class='release_pri_genres'>"
                 "<a class='genre'>", "\x00\x01\x02 not html at all \xff", "<table><tr><td><a class=genre>x"):
        assert parse_page(junk).kind in ("release", "unknown", "artist", "song", "search")
    unclosed = parse_page("<html><head><title>Kid A by Radiohead (Album, Art Rock)</title><body>"
                          "<span class=release_pri_genres><a class=genre href=/genre/art-rock/>Art Rock"
                          "<span class=release_sec_genres><a class=genre href=/genre/idm/>IDM")
    assert unclosed.kind == "release" and unclosed.title == "Kid A" and unclosed.artists == ["Radiohead"]
    assert {"Art Rock", "IDM"} <= set(names(unclosed))


def test_block_pages_are_flagged_not_parsed() -> None:
    assert parse_page(CHALLENGE).blocked and parse_page(CHALLENGE).genres == []
    assert "blocked" in (parse_page(IP_BLOCKED).blocked or "")


def test_saved_url_comment_and_mhtml_single_file_pages() -> None:
    html = release_page("Low", "Things We Lost in the Fire", ["Slowcore"], canonical=False)
    saved = "<!-- saved from url=(0063)https://rateyourmusic.com/release/album/low/things-we-lost/ -->\n" + html
    assert parse_page(saved).url == "https://rateyourmusic.com/release/album/low/things-we-lost/"
    mhtml = ("From: <Saved by Blink>\r\nSubject: Low\r\nMIME-Version: 1.0\r\n"
             'Content-Type: multipart/related; type="text/html"; boundary="B"\r\n\r\n--B\r\n'
             "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n"
             "Content-Location: https://rateyourmusic.com/release/album/low/x/\r\n\r\n"
             + html.replace("=", "=3D") + "\r\n--B--\r\n")
    page = parse_page(html_of_file(mhtml.encode("utf-8")))
    assert page.kind == "release" and [g.name for g in page.genres] == ["Slowcore"]
