"""Read RateYourMusic pages (saved from a browser or fetched politely) into plain data.

Three page kinds carry genres:

* release pages: ``tr.release_genres`` rows holding ``.release_pri_genres`` (primary) and
  ``.release_sec_genres`` (secondary) links ``a.genre`` with ``title="[Genre123]"``;
  descriptors under ``tr.release_descriptors``; the track list is the release's own
  ``ul#tracks`` only (``li.track`` > ``.tracklist_line`` > ``.tracklist_title`` with an
  ``a.song`` or ``.rendered_text``), not the mobile copy (``#tracks_mobile``), not the
  "Total length" line, not credits.  The "Scenes" row reuses the genre classes, so rows are
  told apart by their header;
* artist pages: ``.artist_info_main`` with ``div.info_hdr`` "Genres" followed by ``a.genre`` links,
  plus the discography (live mode and saved pages follow it to the release);
* song pages: ``.page_song_header_info_genre_item_primary a.genre`` (and ``..._secondary``).

Pages a browser saves that are none of these are recognised and named, never read as a
release: the "page not found" page (``kind="not_found"``), search results (``"search"``),
the sign-in page (``"login"``), and challenge or ban pages (``blocked``).  A page is a
release only when it has a release's structure, whatever its URL says.

Text is unescaped once more after parsing: RateYourMusic escapes some names twice
("Don&amp;#39;t" in the source), which a browser shows as "Don't".

The parser never raises on odd HTML: a page it cannot read is ``kind="unknown"``.
"""

from __future__ import annotations

import email
import email.policy
import html as htmllib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, Tag

from collectors.net import block_reason_in_html

BASE_URL = "https://rateyourmusic.com"
_GENRE_ID = re.compile(r"\[\s*Genre\s*(\d+)\s*\]", re.IGNORECASE)
_SAVED_FROM = re.compile(r"saved from url=\(\d+\)(\S+)", re.IGNORECASE)
_TITLE_BY = re.compile(r"^(?P<title>.+?)\s+by\s+(?P<artist>.+?)(?:\s+\((?P<extra>[^()]*)\))?$", re.IGNORECASE)
_SCENE_HEADERS = ("scene", "scenes", "location", "locations")
_NOT_FOUND = re.compile(r"\b404\b|not found|page (?:does not|doesn.?t) exist|could not be found|no such page",
                        re.IGNORECASE)
_LOGIN = re.compile(r"^\s*(?:sign in|log ?in|login)\b|\b(?:sign in|log ?in) (?:to|-) rate your music", re.IGNORECASE)
_SEARCH_TITLE = re.compile(r"^\s*(?:rym )?search\b|search results", re.IGNORECASE)
#: page kinds that carry genres
CONTENT_KINDS = ("release", "song", "artist")
#: what each other kind is, in words for the saved-pages report
NOT_CONTENT = {
    "not_found": "a 'page not found' page (the address was wrong or the page is gone)",
    "search": "a search results page (open the release from it, then save that page)",
    "login": "the sign-in page",
    "unknown": "not a RateYourMusic release, song or artist page",
}


@dataclass(frozen=True)
class RymGenre:
    name: str
    primary: bool
    genre_id: str | None = None


@dataclass
class RymPage:
    """What one page says; ``kind`` is release, artist, song, search or unknown."""

    kind: str
    url: str | None = None
    title: str = ""
    artists: list[str] = field(default_factory=list)
    album: str | None = None
    release_type: str | None = None
    genres: list[RymGenre] = field(default_factory=list)
    descriptors: list[str] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    #: (title, absolute URL) of releases listed on an artist page
    discography: list[tuple[str, str]] = field(default_factory=list)
    #: (name, absolute URL) of artists listed on a search page
    results: list[tuple[str, str]] = field(default_factory=list)
    #: set when the page is a challenge or ban page, not content
    blocked: str | None = None
    #: release pages: the track list had this many entries before clean-up (for the report)
    raw_tracks: int = 0

    @property
    def primary(self) -> list[RymGenre]:
        return [g for g in self.genres if g.primary]

    @property
    def secondary(self) -> list[RymGenre]:
        return [g for g in self.genres if not g.primary]


def _unescape(text: str) -> str:
    """Text as a browser shows it: entities escaped twice in the source ("&amp;#39;") decoded."""
    return " ".join(htmllib.unescape(text).split())


def _text(node: Tag | None) -> str:
    return _unescape(node.get_text(" ", strip=True)) if node is not None else ""


def _own_text(node: Tag | None) -> str:
    """Text of a node without the text of its child elements (a title without its "By Artist" span)."""
    if node is None:
        return ""
    parts = [str(child) for child in node.children if isinstance(child, str) and not isinstance(child, Comment)]
    return _unescape(" ".join(parts))


def _has_class(node: Tag, prefix: str) -> bool:
    return any(c.startswith(prefix) for c in (node.get("class") or []))


def html_of_file(data: bytes) -> str:
    """HTML text of a saved page: plain .html, or the HTML part of an .mhtml single-file page."""
    head = data[:2048].lstrip().lower()
    if head.startswith(b"from:") or b"mime-version:" in head or b"content-type: multipart/related" in head:
        message = email.message_from_bytes(data, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                try:
                    return str(part.get_content())
                except (LookupError, ValueError):
                    payload = part.get_payload(decode=True) or b""
                    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return data.decode("utf-8", "replace")


def _page_url(soup: BeautifulSoup, html: str, fallback: str | None) -> str | None:
    for tag, attr in (("link", "href"), ("meta", "content")):
        node = (soup.find("link", rel="canonical") if tag == "link"
                else soup.find("meta", attrs={"property": "og:url"}))
        if isinstance(node, Tag) and node.get(attr):
            return urljoin(BASE_URL, str(node.get(attr)))
    match = _SAVED_FROM.search(html[:4096])
    if match:
        return match.group(1)
    return fallback


def _headline(soup: BeautifulSoup) -> str:
    """The page's <title> and first headings: where "Page not found" and "Sign in" pages say so."""
    parts = [_text(soup.title) if soup.title else ""]
    parts += [_text(h) for h in soup.find_all(["h1", "h2"], limit=3)]
    return " | ".join(p for p in parts if p)


def _is_release(soup: BeautifulSoup) -> bool:
    """A release's own structure: its genres row, or its title block with the release info table."""
    if soup.select_one("tr.release_genres, .release_pri_genres, .release_sec_genres"):
        return True
    return bool(soup.select_one(".album_title") and soup.select_one("table.album_info"))


def _kind(soup: BeautifulSoup, url: str | None) -> str:
    path = urlsplit(url).path if url else ""
    headline = _headline(soup)
    if soup.select_one(".page_song_header_main_info, .page_song_header_info_genre"):
        return "song"
    if _is_release(soup):
        return "release"
    if soup.select_one(".artist_info_main, .artist_name_hdr"):
        return "artist"
    if path.startswith(("/account/login", "/account/signin", "/login")) or _LOGIN.search(headline) or \
            soup.select_one("form#login_form, form[action*='login'] input[type=password]"):
        return "login"
    if path.startswith("/search") or _SEARCH_TITLE.search(headline) or \
            soup.select_one("a.searchpage, .page_search_results, #searchresults, table.search_results"):
        return "search"
    if _NOT_FOUND.search(headline):
        return "not_found"
    # the URL alone never makes a release: a saved 404 or half-loaded page keeps its address
    return "unknown"


def _title_parts(soup: BeautifulSoup) -> tuple[str, str, str]:
    """(title, artist, extra) from ``<title>`` or og:title: "Loveless by My Bloody Valentine (Album, Shoegaze)"."""
    node = soup.find("meta", attrs={"property": "og:title"})
    candidates = [str(node.get("content")) if isinstance(node, Tag) and node.get("content") else "",
                  _text(soup.title) if soup.title else ""]
    for text in candidates:
        text = re.sub(r"\s*[-|]\s*Rate Your Music\s*$", "", text, flags=re.IGNORECASE).strip()
        text = re.sub(r":\s*Reviews?,.*$", "", text).strip()
        match = _TITLE_BY.match(text)
        if match:
            return match.group("title").strip(), match.group("artist").strip(), (match.group("extra") or "")
    return "", "", ""


def _row_header(row: Tag) -> str:
    header = row.find(["th", "td"], class_="info_hdr") or row.find("th")
    return _text(header).rstrip(":").casefold() if isinstance(header, Tag) else ""


def _is_scene_row(node: Tag) -> bool:
    """True when the node sits in a row whose header is not about genres (e.g. "Scenes")."""
    row = node.find_parent("tr")
    if row is None:
        return False
    header = _row_header(row)
    if not header:
        return False
    return header.startswith(_SCENE_HEADERS) or "genre" not in header


def _genre_links(container: Tag) -> list[Tag]:
    links: list[Tag] = container.select("a.genre")
    if not links:
        links = [a for a in container.find_all("a") if "/genre/" in str(a.get("href", ""))]
    return [a for a in links if "/scene" not in str(a.get("href", "")).lower()]


def _genre_of(link: Tag, primary: bool) -> RymGenre | None:
    name = _own_text(link) or _text(link)  # own text: an unclosed <a> may swallow the next link
    if not name:
        return None
    match = _GENRE_ID.search(str(link.get("title", "")))
    return RymGenre(name=name, primary=primary, genre_id=f"Genre{match.group(1)}" if match else None)


def _nearest_block(link: Tag, classes: frozenset[str]) -> Tag | None:
    for parent in link.parents:
        if isinstance(parent, Tag) and classes.intersection(parent.get("class") or []):
            return parent
    return None


def _collect_genres(blocks: list[tuple[Tag, bool]]) -> list[RymGenre]:
    """Genres of primary/secondary blocks; a link counts for the innermost block around it."""
    classes = frozenset(c for block, _ in blocks for c in (block.get("class") or []))
    seen: dict[str, RymGenre] = {}
    for block, primary in blocks:
        for link in _genre_links(block):
            if classes and _nearest_block(link, classes) is not block:
                continue
            genre = _genre_of(link, primary)
            if genre is None:
                continue
            key = genre.name.casefold()
            if key not in seen or (genre.primary and not seen[key].primary):
                seen[key] = genre
    return list(seen.values())


def _release_genres(soup: BeautifulSoup) -> list[RymGenre]:
    blocks: list[tuple[Tag, bool]] = []
    for node in soup.select(".release_pri_genres, .release_sec_genres"):
        if _is_scene_row(node):
            continue
        blocks.append((node, "release_pri_genres" in (node.get("class") or [])))
    return _collect_genres(blocks)


def _descriptors(soup: BeautifulSoup) -> list[str]:
    node = soup.select_one("tr.release_descriptors .release_pri_descriptors, .release_pri_descriptors")
    if node is None:
        row = soup.select_one("tr.release_descriptors")
        metas = row.find_all("meta") if row else []
        text = ", ".join(str(m.get("content", "")) for m in metas)
    else:
        text = _text(node)
    return [d.strip() for d in text.split(",") if d.strip()]


def _track_list(soup: BeautifulSoup) -> Tag | None:
    """The release's own track list: ``ul#tracks`` (else the first ``#tracks`` list), never the mobile copy."""
    for node in soup.select("#tracks"):
        if node.name in ("ul", "ol"):
            return node
        inner = node.find(["ul", "ol"])
        if isinstance(inner, Tag):
            return inner
        return node
    return soup.select_one("ul.tracks:not(#tracks_mobile), table.tracklist")


def _track_title(line: Tag) -> str:
    title = line.select_one(".tracklist_title")
    if title is None:
        return ""
    song = title.select_one("a.song, .song, [itemprop=name] .rendered_text, .rendered_text, [itemprop=name]")
    if song is not None:
        return _text(song)
    for extra in title.select(".tracklist_duration, .credit, .tracklist_extra, .artist, .featured"):
        extra.extract()
    return _text(title).strip(" -")


def _track_titles(soup: BeautifulSoup) -> tuple[list[str], int]:
    """(titles, entries seen): the release's tracks in order; totals, headers and credits left out."""
    container = _track_list(soup)
    if container is None:
        return [], 0
    lines = container.select("li.track, tr.tracklist_row")
    titles: list[str] = []
    for line in lines:
        if line.find_parent(id="tracks_mobile") is not None or line.select_one(".tracklist_total"):
            continue
        text = _track_title(line)
        if text:
            titles.append(text)
    return titles, len(lines)


def _parse_release(soup: BeautifulSoup, page: RymPage) -> None:
    title_node = soup.select_one(".album_title")
    meta = soup.find("meta", attrs={"itemprop": "name"})
    page.title = _own_text(title_node) or (str(meta.get("content", "")) if isinstance(meta, Tag) else "")
    artists = [_text(a) for a in soup.select("table.album_info tr:first-child a.artist, .album_title a.artist, "
                                             "span[itemprop=byArtist] a.artist")]
    if not artists:
        artists = [_text(a) for a in soup.select("a.artist")][:1]
    t_title, t_artist, extra = _title_parts(soup)
    page.title = page.title or t_title
    page.artists = list(dict.fromkeys(a for a in artists if a)) or ([t_artist] if t_artist else [])
    page.release_type = extra.split(",")[0].strip() or None if extra else None
    page.genres = _release_genres(soup)
    page.descriptors = _descriptors(soup)
    page.tracks, page.raw_tracks = _track_titles(soup)


def _parse_artist(soup: BeautifulSoup, page: RymPage) -> None:
    page.title = _own_text(soup.select_one("h1.artist_name_hdr, .artist_name_hdr")) or _text(
        soup.select_one("h1.artist_name_hdr, .artist_name_hdr"))
    if not page.title:
        page.title = re.sub(r"\s*[-|(].*$", "", _text(soup.title) if soup.title else "").strip()
    page.artists = [page.title] if page.title else []
    blocks: list[tuple[Tag, bool]] = []
    for info in soup.select(".artist_info_main"):
        for header in info.select(".info_hdr"):
            if not _text(header).casefold().startswith("genre"):
                continue
            content = header.find_next_sibling()
            if isinstance(content, Tag):
                blocks.append((content, True))
    page.genres = _collect_genres(blocks)
    seen: set[str] = set()
    for link in soup.select(".disco_mainline a, .disco_info a.album, a.component_discography_item_link, "
                            "#discography a[href*='/release/']"):
        href = str(link.get("href", ""))
        if "/release/" not in href:
            continue
        url = urljoin(BASE_URL, href)
        name = _text(link) or str(link.get("title", ""))
        if name and url not in seen:
            seen.add(url)
            page.discography.append((name, url))


def _parse_song(soup: BeautifulSoup, page: RymPage) -> None:
    t_title, t_artist, _ = _title_parts(soup)
    page.title = _own_text(soup.select_one(".page_song_header_main_info h1")) or _text(
        soup.select_one(".page_song_header_main_info h1")) or t_title
    artists = [_text(a) for a in soup.select(".page_song_header_info_artist a.artist, "
                                             ".page_song_header_info_artist .artist")]
    page.artists = list(dict.fromkeys(a for a in artists if a)) or ([t_artist] if t_artist else [])
    album = soup.select_one(".page_song_header_info_rest a.album")
    page.album = _text(album) or None
    blocks = [(n, True) for n in soup.select(".page_song_header_info_genre_item_primary")]
    blocks += [(n, False) for n in soup.select(".page_song_header_info_genre_item_secondary")]
    page.genres = _collect_genres(blocks)


def _parse_search(soup: BeautifulSoup, page: RymPage) -> None:
    seen: set[str] = set()
    for link in soup.select("a.searchpage, a.artist"):
        href = str(link.get("href", ""))
        if not href.startswith("/artist/") and "/artist/" not in href:
            continue
        url = urljoin(BASE_URL, href)
        name = _text(link)
        if name and url not in seen:
            seen.add(url)
            page.results.append((name, url))


def parse_page(html: str, url: str | None = None) -> RymPage:
    """Parse one page; ``url`` is where it came from when the page does not say so itself."""
    blocked = block_reason_in_html(html)
    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception:  # lxml refuses only truly broken input; treat it as unreadable
        return RymPage(kind="unknown", url=url, blocked=blocked)
    page_url = _page_url(soup, html, url)
    if blocked:
        return RymPage(kind="unknown", url=page_url, blocked=blocked)
    page = RymPage(kind=_kind(soup, page_url), url=page_url)
    if page.kind == "release":
        _parse_release(soup, page)
    elif page.kind == "artist":
        _parse_artist(soup, page)
    elif page.kind == "song":
        _parse_song(soup, page)
    elif page.kind == "search":
        _parse_search(soup, page)
    return page
