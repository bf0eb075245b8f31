"""Words that say a video is a *different recording* of the song: remake, remix, sped up, cover, live...

A dataset wants the recording the catalogue names, so a video that says it is another
version is never accepted, however well its title, artist and length match (the
issue that started this list: a fan "Remake" accepted at 0.985 and an anime music
video at 0.88).  Each kind is a list of patterns searched in text folded by
:func:`manifests.ids.fold_text` (lower case, no accents, apostrophes joined, "&"/"+"
read as "and", punctuation as spaces):

* ``WORDS`` patterns match whole words only, so "Alive" is not "live" and "Undercover"
  is not "cover";
* ``ANYWHERE`` patterns are for scripts written without spaces (Japanese, Chinese,
  Korean), where "歌ってみた" ("I tried singing it": a cover) sits inside a longer run.

Titles, album names and channel names are read differently (see :func:`markers_in`,
:func:`album_markers`, :func:`channel_markers`): a channel called "Nightcore Reality"
says as much as a title, a channel called "Live Nation" does not.  Lyric videos,
visualizers, "Official Audio" and the artist's "- Topic" channel are *not* versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from manifests.ids import fold_text

#: kind -> whole-word patterns (regex on folded text).  Several languages where uploads use them.
WORDS: dict[str, tuple[str, ...]] = {
    "remake": (r"remake", r"re make", r"remade", r"recreat(?:ed|ion|e)", r"re ?imagin(?:ed|ing)", r"redux",
               r"re ?recorded", r"re ?record", r"taylors version", r"fl studio remake", r"flp",
               r"but (?:its|it is|in) (?:a|an|the)?\s*\w+"),
    "remix": (r"remix(?:ed|es)?", r"rmx", r"bootleg", r"rework(?:ed)?", r"re ?edit", r"vip (?:mix|edit)",
              r"(?<!original )(?<!album )(?<!stereo )(?<!single )(?<!\d{4} )(?<!mono )mix",
              r"(?:club|festival|dub|house|trap|techno|drill|phonk|jersey club|hardstyle) (?:edit|version)",
              r"dub version", r"remezcla", r"lofi (?:remix|flip|edit)",
              r"version (?:pop|salsa|urbana|bachata|cumbia|banda|reggaeton|rock|balada|electronica|cumbia)"),
    "mashup": (r"mash ?up", r"medley", r"megamix", r"mixed with"),
    "sped_up": (r"sped ?up", r"speed ?up", r"fast(?:er)? version", r"pitched(?: up)?", r"pitch up",
                r"acelerad[oa]", r"versao acelerada", r"ускоренн\w*", r"speed song"),
    "slowed": (r"slowed", r"slow(?:ed)? ?(?:down|and reverb|reverb)", r"slow version", r"reverb(?:ed)?",
               r"half speed", r"daycore", r"chopped (?:and|n) screwed", r"screwed", r"pitched down",
               r"underwater", r"muffled", r"замедленн\w*", r"ralentizad[oa]"),
    "nightcore": (r"nightcore", r"nightstep"),
    "8d": (r"8 ?d(?: audio)?", r"16 ?d(?: audio)?", r"9 ?d(?: audio)?", r"3 ?d audio", r"360 audio", r"binaural"),
    "bass_boosted": (r"bass ?boost(?:ed)?", r"extreme bass", r"ear ?rape", r"bass test", r"subwoofer test"),
    "type_beat": (r"type beat", r"typebeat", r"type instrumental", r"free for profit", r"free beat"),
    "reaction": (r"reaction", r"reacts?", r"reacting", r"reacted", r"first time (?:hearing|listening|watching)",
                 r"reaccion", r"reaccionando", r"reagindo", r"reaktion", r"reazione", r"реакция"),
    "tutorial": (r"tutorial", r"tuto", r"lessons?", r"how to (?:play|sing|make|produce)", r"how i made",
                 r"chords?", r"tabs?", r"playthrough", r"play through", r"play ?along", r"drum ?cam",
                 r"guitar cam", r"bass cam", r"synthesia", r"sheet music", r"partitura", r"aula",
                 r"como tocar", r"clase de (?:guitarra|piano|bateria)", r"cifra", r"akkorde", r"разбор",
                 r"как играть", r"making the beat", r"beat making", r"cook ?up", r"stems? breakdown"),
    "cover": (r"covers?(?! art)", r"covered", r"tribute", r"rendition", r"in the style of", r"made famous by",
              r"originally (?:by|performed by)", r"as performed by",
              r"(?:piano|guitar|violin|cello|sax(?:ophone)?|ukulele|harp|flute|orchestral|string quartet|epic|"
              r"metal|rock|jazz|lofi|lo fi|bossa nova|reggae|country|punk|female|male|kids|8 ?bit|music box|"
              r"lullaby|choir|a cappella|acapella) (?:version|cover|rendition|arrangement)",
              r"music box", r"lullaby renditions?", r"8 ?bit", r"kalimba", r"ocarina", r"parod(?:y|ie|ia)",
              r"the voice", r"x factor", r"american idol", r"got talent", r"audition", r"кавер", r"пародия"),
    "language": (r"(?:english|spanish|japanese|korean|chinese|french|german|italian|russian|portuguese|hindi) "
                 r"(?:version|ver|cover)", r"en espanol", r"em portugues", r"eng ver", r"jp ver"),
    "fan_edit": (r"amv", r"gmv", r"mmv", r"pmv", r"fmv", r"edit audio", r"audio edit", r"fan ?made",
                 r"fan edit", r"fan video", r"fanvid", r"tiktok edit", r"velocity edit", r"animatic", r"mmd",
                 r"anime (?:mv|edit)", r"lyric prank"),
    "instrumental": (r"instrumental(?:es)?", r"inst", r"backing tracks?", r"minus one", r"no vocals?",
                     r"without vocals?", r"vocals? removed", r"off vocal", r"beat only", r"only beat", r"pista",
                     r"playback", r"минус(?:овка)?"),
    "karaoke": (r"karaoke", r"sing ?along", r"karafun", r"караоке", r"noraebang"),
    "a_cappella": (r"a ?cappella", r"acapellas?", r"accapella", r"vocals? only", r"only vocals?",
                   r"isolated vocals?", r"vocal stems?", r"mr removed"),
    "live": (r"live", r"en vivo", r"ao vivo", r"en directo", r"dal vivo", r"en concierto", r"in concert",
             r"concert", r"unplugged", r"live performance", r"performs?", r"performing", r"performed live", r"tiny desk",
             r"fan ?cam", r"open mic", r"colors show", r"kexp", r"audiotree", r"sofar sounds",
             r"(?:bbc|peel|mahogany|spotify|sofar|vevo|radio|studio) sessions?", r"live lounge",
             r"festival", r"glastonbury", r"coachella", r"lollapalooza", r"rock in rio", r"woodstock",
             r"live aid", r"tomorrowland", r"boiler room", r"jimmy fallon", r"tonight show", r"late show",
             r"jimmy kimmel", r"saturday night live", r"snl", r"jools holland", r"top of the pops", r"totp",
             r"концерт", r"живой звук", r"music bank", r"inkigayo", r"m ?countdown", r"show champion",
             r"music core", r"stage mix", r"comeback stage"),
    "acoustic": (r"acoustic", r"acustic[oa]", r"acoustique", r"akustik", r"unplugged", r"stripped(?: back)?",
                 r"piano version"),
    "demo": (r"demo", r"alternate (?:take|version|mix)", r"alt(?:ernative)? (?:take|version)", r"outtakes?",
             r"rehearsal", r"early version", r"work ?tape", r"unreleased version", r"take \d+", r"rough mix"),
    "extended": (r"extended", r"long version", r"full length version", r"directors cut"),
    "tv_size": (r"tv size", r"tv ver(?:sion)?", r"short ver(?:sion)?", r"game size"),
    "loop": (r"\d+\s*(?:hours?|hrs?|h|horas?|heures?|stunden?|ore|часа?|часов)", r"one hour", r"an hour",
             r"loop(?:ed)?", r"on repeat", r"10 ?h", r"1 ?h"),
    "full_album": (r"full album", r"complete album", r"full ep", r"full lp", r"whole album", r"album completo",
                   r"album complet", r"disco completo", r"full mixtape", r"full soundtrack", r"полный альбом",
                   r"greatest hits", r"best songs", r"top \d+ songs", r"playlist", r"non ?stop"),
    "dance": (r"dance practice", r"dance cover", r"choreography", r"choreo", r"mirrored", r"dance tutorial",
              r"dance challenge", r"relay dance"),
    "not_the_song": (r"interview", r"behind the scenes", r"making of", r"documentary", r"explained",
                     r"(?:song |lyrics? )?meaning", r"analysis", r"review(?:ing)?", r"podcast", r"trailer",
                     r"teaser", r"snippet", r"preview", r"shorts", r"vlog", r"unboxing",
                     r"breaks? down", r"story behind", r"verified"),
}

#: kind -> patterns searched anywhere (scripts without spaces between words).
ANYWHERE: dict[str, tuple[str, ...]] = {
    "cover": (r"歌ってみた", r"弾いてみた", r"叩いてみた", r"吹いてみた", r"カバー", r"翻唱", r"커버", r"弾き語り"),
    "live": (r"ライブ", r"라이브", r"现场", r"現場", r"直拍", r"직캠", r"무대", r"인기가요", r"뮤직뱅크", r"엠카운트다운",
             r"음악중심", r"쇼챔피언", r"교차편집"),
    "karaoke": (r"カラオケ", r"노래방", r"卡拉ok", r"ktv"),
    "instrumental": (r"オフボーカル", r"伴奏", r"纯音乐", r"純音樂", r"カラオケ音源"),
    "loop": (r"\d+\s*(?:時間|小时|小時|시간)", r"耐久", r"循环", r"ループ", r"반복"),
    "sped_up": (r"倍速", r"加速"),
    "reaction": (r"リアクション", r"리액션", r"반응", r"反应"),
    "tutorial": (r"弾き方", r"講座", r"강좌", r"教学"),
    "dance": (r"踊ってみた", r"안무"),
    "fan_edit": (r"手書き", r"組曲"),
    "remix": (r"リミックス", r"리믹스"),
    "full_album": (r"全曲", r"フルアルバム"),
    "not_the_song": (r"インタビュー", r"인터뷰"),
}

KINDS: tuple[str, ...] = tuple(dict.fromkeys([*WORDS, *ANYWHERE]))

_PATTERNS: dict[str, re.Pattern[str]] = {}
for _kind in KINDS:
    _parts = [rf"(?<!\w)(?:{p})(?!\w)" for p in WORDS.get(_kind, ())] + list(ANYWHERE.get(_kind, ()))
    _PATTERNS[_kind] = re.compile("|".join(_parts))

#: Album names: "Live at Wembley", "Greatest Hits Live", "Live" and "(Live)" are live albums;
#: "Live Through This" and "Alive" are not.
_ALBUM_LIVE = re.compile(r"(?<!\w)live (?:at|in|from|on|aus|au|en|a)(?!\w)|(?<!\w)in concert(?!\w)|"
                         r"(?<!\w)live$")
#: Kinds a channel name can state by itself ("Nightcore Reality", "Sped Up Songs", "Karaoke Hits").
CHANNEL_KINDS = frozenset({"remake", "remix", "mashup", "sped_up", "slowed", "nightcore", "8d", "bass_boosted",
                           "type_beat", "reaction", "tutorial", "cover", "fan_edit", "instrumental", "karaoke",
                           "a_cappella", "loop", "dance"})
#: Channels whose uploads are, by what the channel is, versions (folded names, without "VEVO"/"- Topic").
KNOWN_CHANNELS: dict[str, str] = {
    "sing king": "karaoke", "karafun": "karaoke", "karaoke version": "karaoke", "zoom karaoke": "karaoke",
    "kidz bop": "cover", "kidz bop kids": "cover", "vitamin string quartet": "cover", "rockabye baby": "cover",
    "piano tribute players": "cover", "scott bradlees postmodern jukebox": "cover", "postmodern jukebox": "cover",
    "boyce avenue": "cover", "the piano guys": "cover", "8 bit arcade": "cover", "8 bit universe": "cover",
    "kexp": "live", "npr music": "live", "colors": "live", "audiotree live": "live", "sofar sounds": "live",
    "la blogotheque": "live", "bbc radio 1": "live", "bbc radio 2": "live", "bbc music": "live",
    "jimmy kimmel live": "live", "the tonight show starring jimmy fallon": "live", "saturday night live": "live",
    "the late show with stephen colbert": "live", "mahogany": "live", "the current": "live",
    "nightcore reality": "nightcore",
}


def markers_in(text: str, *, kinds: Iterable[str] | None = None) -> set[str]:
    """Kinds of version that ``text`` (a title, any case or punctuation) says it is."""
    folded = fold_text(text)
    if not folded:
        return set()
    wanted = KINDS if kinds is None else tuple(kinds)
    return {kind for kind in wanted if _PATTERNS[kind].search(folded)}


def album_markers(album: str) -> set[str]:
    """Kinds an album name states; "live" only in the forms live albums use ("Live at ...", "... (Live)")."""
    found = markers_in(album) - {"live", "not_the_song", "full_album", "extended", "loop"}
    if _ALBUM_LIVE.search(fold_text(album)):
        found.add("live")
    return found


def channel_markers(channel: str) -> set[str]:
    """Kinds a channel name states: a known channel's kind, or a version word in the name itself."""
    folded = fold_text(channel)
    if not folded:
        return set()
    found = markers_in(channel, kinds=CHANNEL_KINDS)
    known = KNOWN_CHANNELS.get(folded)
    if known:
        found.add(known)
    return found


def remove_once(folded: str, phrase: str) -> str:
    """``folded`` without the first whole-word occurrence of ``phrase`` (both already folded)."""
    if not phrase:
        return folded
    return " ".join(re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", folded, count=1).split())
