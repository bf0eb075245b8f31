"""RateYourMusic-shaped pages, built in code to the structure the site serves (see the parser docstring).

Release pages carry what a saved real page carries around the track list: the list twice
(``ul#tracks`` and the mobile copy ``ul#tracks_mobile``), a "Total length" line, and names
escaped twice in the source ("Don&amp;#39;t").  The 404, search and sign-in pages are the
ones a browser saves when an address is wrong or the session ended.
"""

from __future__ import annotations

from html import escape

BASE = "https://rateyourmusic.com"


def _genre_links(names: list[str], start_id: int = 100) -> str:
    return ", ".join(f'<a class="genre" href="/genre/{escape(n.lower().replace(" ", "-"))}/" '
                     f'title="[Genre{start_id + i}]">{escape(n)}</a>' for i, n in enumerate(names))


def release_page(artist: str, title: str, primary: list[str], secondary: list[str] | None = None, *,
                 scenes: list[str] | None = None, descriptors: list[str] | None = None,
                 tracks: list[str] | None = None, kind: str = "Album", slug: str | None = None,
                 canonical: bool = True, scene_href: str = "/scenes/{}/", escape_twice: bool = False) -> str:
    slug = slug or f"{artist.lower().replace(' ', '-')}/{title.lower().replace(' ', '-')}"
    url = f"{BASE}/release/{kind.lower()}/{slug}/"
    head_link = f'<link rel="canonical" href="{escape(url)}">' if canonical else ""
    genre_title = primary[0] if primary else "Unknown"
    sec = f'<div class="release_sec_genres">{_genre_links(secondary, 500)}</div>' if secondary else ""
    scene_row = ""
    if scenes:
        links = ", ".join(f'<a class="genre" href="{scene_href.format(s.lower().replace(" ", "-"))}">{escape(s)}</a>'
                          for s in scenes)
        scene_row = (f'<tr class="release_genres"><th class="info_hdr">Scenes</th><td colspan="2">'
                     f'<div class="release_genres"><span class="release_pri_genres">{links}</span></div></td></tr>')
    desc_row = ""
    if descriptors:
        desc_row = (f'<tr class="release_descriptors"><th class="info_hdr">Descriptors</th><td colspan="2">'
                    f'<meta content="{escape(", ".join(descriptors))}"><span class="release_pri_descriptors">'
                    f'{escape(", ".join(descriptors))}</span></td></tr>')
    def item(i: int, t: str) -> str:
        shown = escape(t).replace("&#x27;", "&amp;#39;") if escape_twice else escape(t)
        return (f'<li class="track" itemprop="track"><div class="tracklist_line"><span class="tracklist_num">{i}'
                f'</span><span class="tracklist_title"><a class="song" href="/song/x/{i}/">{shown}</a>'
                f'<span class="tracklist_duration" data-inseconds="200">3:20</span></span></div></li>')

    total = ('<li class="track" style="text-align:right;"><span class="tracklist_total">Total length: '
             f'{len(tracks or []) * 3}:20</span></li>') if tracks else ""
    items = "".join(item(i, t) for i, t in enumerate(tracks or [], start=1)) + total
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>{escape(title)} by {escape(artist)} ({kind}, {escape(genre_title)}): Reviews, Ratings, Credits, Song list - Rate Your Music</title>
{head_link}</head>
<body><div class="release_page">
<div class="album_title" itemprop="name">{escape(title)}
 <span class="album_artist_small">By <a href="/artist/{escape(artist.lower())}" class="artist">{escape(artist)}</a></span></div>
<table class="album_info">
<tr><th class="info_hdr">Artist</th><td><span itemprop="byArtist"><a href="/artist/x" class="artist">{escape(artist)}</a></span></td></tr>
<tr><th class="info_hdr">Type</th><td>{kind}</td></tr>
<tr class="release_genres"><th class="info_hdr">Genres</th><td colspan="2"><div class="release_genres">
<span class="release_pri_genres">{_genre_links(primary)}</span>{sec}</div></td></tr>
{scene_row}{desc_row}
</table>
<div class="section_tracklisting"><ul id="tracks" class="tracks tracklist_wide">{items}</ul>
<ul id="tracks_mobile" class="tracks tracklist_mobile">{items}</ul></div>
</div></body></html>"""


def artist_page(name: str, genres: list[str], releases: list[tuple[str, str]] | None = None) -> str:
    disco = "".join(
        f'<div class="disco_release"><div class="disco_info"><div class="disco_mainline">'
        f'<a class="album" href="{escape(href)}" title="{escape(title)}">{escape(title)}</a></div></div></div>'
        for title, href in releases or [])
    return f"""<html><head><title>{escape(name)} Discography: Reviews, Ratings - Rate Your Music</title>
<link rel="canonical" href="{BASE}/artist/{escape(name.lower().replace(' ', '-'))}"></head><body>
<div class="artist_left_col"><div class="artist_info"><div class="artist_info_main">
<div class="info_hdr">Formed</div><div class="info_content">1983, Dublin</div>
<div class="info_hdr">Genres</div><div class="info_content">{_genre_links(genres)}</div>
<div class="info_hdr">Notes</div><div class="info_content">Not <a class="genre" href="/genre/jazz/">Jazz</a> at all</div>
</div></div></div>
<h1 class="artist_name_hdr">{escape(name)}</h1>
<div id="discography"><div id="disco_type_s">{disco}</div></div>
</body></html>"""


def song_page(artist: str, title: str, primary: list[str], secondary: list[str] | None = None,
              album: str | None = None) -> str:
    sec = (f'<span class="page_song_header_info_genre_item_secondary">{_genre_links(secondary, 700)}</span>'
           if secondary else "")
    alb = f'<div class="page_song_header_info_rest"><a class="album" href="/release/x/">{escape(album)}</a></div>' if album else ""
    return f"""<html><head><title>{escape(title)} by {escape(artist)} - Rate Your Music</title>
<link rel="canonical" href="{BASE}/song/{escape(artist.lower().replace(' ', '-'))}/{escape(title.lower().replace(' ', '-'))}/">
</head><body><div class="page_song_header_main_info"><h1>{escape(title)}</h1>
<div class="page_song_header_info_artist"><a class="artist" href="/artist/x">{escape(artist)}</a></div>
<div class="page_song_header_info_genre"><span class="page_song_header_info_genre_item_primary">{_genre_links(primary, 600)}</span>{sec}</div>
{alb}</div></body></html>"""


def search_page(results: list[tuple[str, str]]) -> str:
    rows = "".join(f'<tr class="infobox"><td><a class="searchpage" href="{escape(href)}">{escape(name)}</a></td></tr>'
                   for name, href in results)
    return f"<html><head><title>Search - Rate Your Music</title></head><body><table>{rows}</table></body></html>"


CHALLENGE = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
             "<div id='challenge-running'>Checking your browser before accessing rateyourmusic.com</div>"
             "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1'></script></body></html>")
IP_BLOCKED = ("<html><head><title>IP blocked</title></head><body><h1>Your IP address has been blocked</h1>"
              "<form id='sec_verify' method='post'><input name='answer'></form></body></html>")


def not_found_page(url: str = f"{BASE}/release/album/nobody/nothing/") -> str:
    """What a browser saves for a wrong or removed address: the site's frame and a short message."""
    return f"""<!-- saved from url=(0060){url} -->
<html><head><title>Page not found - Rate Your Music</title></head><body>
<div id="header"><a class="artist" href="/artist/radiohead">Radiohead</a></div>
<div class="page_error"><h1>404</h1><p>The page you requested could not be found.</p></div></body></html>"""


def release_search_page(query: str, results: list[tuple[str, str, str]]) -> str:
    """Search results for releases (searchtype=l): artist, title and link of each hit."""
    rows = "".join(f'<tr class="infobox"><td><a class="artist" href="/artist/x">{escape(artist)}</a> - '
                   f'<a class="searchpage" href="{escape(href)}">{escape(title)}</a></td></tr>'
                   for artist, title, href in results)
    return f"""<html><head><title>RYM Search: {escape(query)}</title>
<link rel="canonical" href="{BASE}/search?searchterm={escape(query)}&searchtype=l"></head><body>
<div id="page_search_results"><table>{rows}</table></div></body></html>"""


LOGIN = (f"<html><head><title>Sign in - Rate Your Music</title><link rel='canonical' href='{BASE}/account/login'>"
         "</head><body><form id='login_form' action='/account/login_submit' method='post'>"
         "<input name='username'><input name='password' type='password'></form></body></html>")
