"""The genre taxonomy: canonical genres, their parent tree, and how raw strings map onto them.

Modelled on beets' lastgenre plug-in: the taxonomy is *data* (a TOML or JSON
file), and one pure, ordered function applies it.  ``Taxonomy.map(raw)`` runs

1. normalise the raw string (Unicode accents stripped, case folded, ``&``/``+``
   and ``'n'`` become "and", punctuation becomes single spaces),
2. exact canonical name (compared in normalised form),
3. alias table (normalised form),
4. the same two tables compared without spaces (``HIPHOP``, ``synthpop``),
5. regex rules, in file order, searched in the normalised string,
6. otherwise ``None``.

The same input always gives the same answer; nothing depends on call order.
A malformed taxonomy file is refused at load time with one line naming the file,
the entry and the problem.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from manifests.errors import UserError
from manifests.schema import GENRE_PATTERN

log = logging.getLogger(__name__)

ENV_TAXONOMY = "GENRE_TAXONOMY"
DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "data" / "taxonomy.toml"

_GENRE_RE = re.compile(rf"(?:{GENRE_PATTERN})\Z")
_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
_N_CONTRACTION = re.compile(rf"[{_APOSTROPHES}]\s*n\s*[{_APOSTROPHES}]")  # r'n'b, rock 'n' roll
_APOSTROPHE = re.compile(rf"[{_APOSTROPHES}]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)

#: The steps of the mapping function, in the order they are tried.
STEPS = ("canonical", "alias", "compact", "rule")


class TaxonomyError(UserError, ValueError):
    """A taxonomy file that cannot be used; the message names the file and the entry."""


def normalize_genre(raw: str) -> str:
    """The form every comparison uses: ``"Drum'n'Bass"`` and ``"drum & bass"`` -> ``"drum and bass"``.

    Pure and total: any string gives a (possibly empty) string of lower-case words joined by
    single spaces.  A lone ``n`` token (``rock n roll``) reads as "and".
    """
    text = unicodedata.normalize("NFKD", raw or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _N_CONTRACTION.sub(" n ", text)
    text = _APOSTROPHE.sub("", text)  # 80's -> 80s, rock n' roll -> rock n roll
    text = text.replace("&", " and ").replace("+", " and ")
    words = ["and" if word == "n" else word for word in _NON_WORD.sub(" ", text).split()]
    return " ".join(words)


def _compact(normalised: str) -> str:
    return normalised.replace(" ", "")


@dataclass(frozen=True)
class Rule:
    """One regex rule: searched in the normalised raw string; the first rule that matches wins."""

    index: int
    pattern: str
    genre: str
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Match:
    """Why a raw string mapped where it did (for ``taxonomy map`` and debugging)."""

    raw: str
    normalised: str
    genre: str | None
    step: str | None  # one of STEPS, or None when nothing matched
    detail: str = ""


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """Canonical genres with a parent tree, aliases and ordered regex rules.

    Build one with :func:`load_taxonomy` or :meth:`Taxonomy.from_data`; the
    constructor trusts its arguments.
    """

    parents: Mapping[str, str | None]
    aliases: Mapping[str, str]  # normalised alias -> canonical genre
    rules: tuple[Rule, ...]
    source: str = "<memory>"
    examples: Mapping[str, str | None] = field(default_factory=dict)
    _canonical: Mapping[str, str] = field(default_factory=dict, repr=False)  # normalised -> genre
    _compact: Mapping[str, str] = field(default_factory=dict, repr=False)  # compact -> genre
    #: remembered answers of the (pure) mapping function: claims repeat the same strings a lot
    _memo: dict[str, Match] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ the tree

    @property
    def genres(self) -> frozenset[str]:
        return frozenset(self.parents)

    def _known(self, genre: str) -> None:
        if genre not in self.parents:
            raise KeyError(f"unknown genre {genre!r} (not in the taxonomy {self.source})")

    def parent(self, genre: str) -> str | None:
        """The direct parent, or None for a top-level genre. Unknown genres raise KeyError."""
        self._known(genre)
        return self.parents[genre]

    def ancestors(self, genre: str) -> list[str]:
        """Parent, grandparent, ... up to the top-level genre (nearest first, self excluded)."""
        self._known(genre)
        out: list[str] = []
        node = self.parents[genre]
        while node is not None:
            out.append(node)
            node = self.parents[node]
        return out

    def depth(self, genre: str) -> int:
        """0 for a top-level genre, 1 for its children, and so on."""
        return len(self.ancestors(genre))

    def children(self, genre: str | None) -> list[str]:
        """Direct children, sorted; ``None`` gives the top-level genres."""
        if genre is not None:
            self._known(genre)
        return sorted(g for g, p in self.parents.items() if p == genre)

    @property
    def roots(self) -> list[str]:
        return self.children(None)

    def rollup(self, genre: str, targets: Iterable[str]) -> str | None:
        """The nearest of ``genre`` itself or its ancestors that is in ``targets``; None if none is."""
        wanted = set(targets)
        for node in [genre, *self.ancestors(genre)]:
            if node in wanted:
                return node
        return None

    def at_level(self, level: int) -> frozenset[str]:
        """Genres at depth <= ``level``: rolling up to these cuts the tree at that level."""
        if level < 0:
            raise ValueError("level must be 0 (top-level genres) or more")
        return frozenset(g for g in self.parents if self.depth(g) <= level)

    # ------------------------------------------------------------ mapping

    def explain(self, raw: str) -> Match:
        """Apply the ordered steps to one raw string and say which one matched."""
        found = self._memo.get(raw)
        if found is None:
            found = self._memo[raw] = self._explain(raw)
        return found

    def _explain(self, raw: str) -> Match:
        norm = normalize_genre(raw)
        if not norm:
            return Match(raw, norm, None, None, "empty after normalisation")
        if norm in self._canonical:
            return Match(raw, norm, self._canonical[norm], "canonical")
        if norm in self.aliases:
            return Match(raw, norm, self.aliases[norm], "alias", repr(norm))
        compact = _compact(norm)
        if compact in self._compact:
            return Match(raw, norm, self._compact[compact], "compact", f"{compact!r}, spaces ignored")
        for rule in self.rules:
            if rule.regex.search(norm):
                return Match(raw, norm, rule.genre, "rule", f"{rule.index} /{rule.pattern}/")
        return Match(raw, norm, None, None, "no canonical name, alias or rule matched")

    def map(self, raw: str) -> str | None:
        """The canonical genre for a raw source string, or None when the taxonomy does not know it."""
        return self.explain(raw).genre

    # ------------------------------------------------------------ building

    @classmethod
    def from_data(cls, data: object, source: str = "<memory>") -> Taxonomy:
        """Validate parsed taxonomy data (see labeling/README.md for the format)."""

        def fail(entry: str, problem: str) -> TaxonomyError:
            return TaxonomyError(f"{source}: {entry}: {problem}")

        if not isinstance(data, Mapping):
            raise fail("file", "top level must be a table/object with 'genres', 'aliases', 'rules'")
        unknown_keys = set(data) - {"version", "genres", "aliases", "rules", "examples", "description"}
        if unknown_keys:
            raise fail(sorted(unknown_keys)[0], "unknown section (known: genres, aliases, rules, examples)")
        version = data.get("version", 1)
        if version != 1:
            raise fail("version", f"{version!r} is not supported (this toolkit reads version 1)")

        raw_genres = data.get("genres")
        if not isinstance(raw_genres, Mapping) or not raw_genres:
            raise fail("genres", "missing or empty; expected a table of 'genre = \"parent\"' lines")
        parents: dict[str, str | None] = {}
        canonical: dict[str, str] = {}
        for name, parent in raw_genres.items():
            where = f"genres.{name!r}"
            if not isinstance(name, str) or not _GENRE_RE.match(name):
                raise fail(where, "bad genre name: use lower-case words joined by single spaces or hyphens")
            if parent in ("", None):
                parent = None
            elif not isinstance(parent, str):
                raise fail(where, f"parent must be a genre name or \"\" (top level), got {parent!r}")
            key = normalize_genre(name)
            if key in canonical:
                raise fail(where, f"same genre as {canonical[key]!r} once normalised ({key!r})")
            canonical[key] = name
            parents[name] = parent
        for name, parent in parents.items():
            if parent is not None and parent not in parents:
                raise fail(f"genres.{name!r}", f"unknown parent {parent!r}")
        for name in parents:  # walk up from every genre; coming back to a seen node is a cycle
            seen = [name]
            node = parents[name]
            while node is not None:
                if node in seen:
                    loop = " -> ".join([*seen[seen.index(node):], node])
                    raise fail(f"genres.{name!r}", f"parent cycle {loop}")
                seen.append(node)
                node = parents[node]

        raw_aliases = data.get("aliases", {})
        if not isinstance(raw_aliases, Mapping):
            raise fail("aliases", "must be a table of '\"raw string\" = \"canonical genre\"' lines")
        aliases: dict[str, str] = {}
        alias_origin: dict[str, str] = {}
        for alias, target in raw_aliases.items():
            where = f"aliases.{alias!r}"
            if not isinstance(target, str) or target not in parents:
                raise fail(where, f"alias to unknown genre {target!r}")
            key = normalize_genre(alias)
            if not key:
                raise fail(where, "alias is empty once normalised (only punctuation?)")
            if key in canonical and canonical[key] != target:
                raise fail(where, f"alias would shadow the canonical genre {canonical[key]!r}")
            if key in aliases and aliases[key] != target:
                raise fail(where, f"same alias as {alias_origin[key]!r} (both {key!r} once normalised) "
                                  f"but maps to {target!r} instead of {aliases[key]!r}")
            if key not in canonical:
                aliases[key] = target
                alias_origin[key] = alias

        compact: dict[str, str] = {}
        compact_origin: dict[str, str] = {}
        for key, target in [*canonical.items(), *aliases.items()]:
            squeezed = _compact(key)
            if squeezed in compact and compact[squeezed] != target:
                raise fail(f"aliases.{key!r}" if key in aliases else f"genres.{key!r}",
                           f"reads the same as {compact_origin[squeezed]!r} without spaces "
                           f"({squeezed!r}) but maps to {target!r} instead of {compact[squeezed]!r}")
            compact.setdefault(squeezed, target)
            compact_origin.setdefault(squeezed, key)

        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise fail("rules", "must be a list of {pattern, genre} entries ([[rules]] in TOML)")
        rules: list[Rule] = []
        for index, entry in enumerate(raw_rules, start=1):
            where = f"rules[{index}]"
            if not isinstance(entry, Mapping) or set(entry) - {"pattern", "genre", "note"} \
                    or "pattern" not in entry or "genre" not in entry:
                raise fail(where, "each rule needs exactly 'pattern' and 'genre' (and an optional 'note')")
            pattern, target = entry["pattern"], entry["genre"]
            if not isinstance(pattern, str) or not pattern:
                raise fail(where, "pattern must be a non-empty string")
            if not isinstance(target, str) or target not in parents:
                raise fail(where, f"rule /{pattern}/ maps to unknown genre {target!r}")
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise fail(where, f"bad regex /{pattern}/: {exc}") from None
            rules.append(Rule(index, pattern, target, regex))

        raw_examples = data.get("examples", {})
        if not isinstance(raw_examples, Mapping):
            raise fail("examples", "must be a table of '\"raw string\" = \"expected genre\"' lines")
        examples: dict[str, str | None] = {}
        for raw, expected in raw_examples.items():
            expected = expected or None
            if expected is not None and expected not in parents:
                raise fail(f"examples.{raw!r}", f"expects unknown genre {expected!r}")
            examples[raw] = expected

        return cls(parents=parents, aliases=aliases, rules=tuple(rules), source=source, examples=examples,
                   _canonical=canonical, _compact=compact)

    def check_examples(self) -> list[str]:
        """Problems with the file's own ``[examples]``: one line per raw string that maps elsewhere."""
        problems = []
        for raw, expected in self.examples.items():
            got = self.explain(raw)
            if got.genre != expected:
                how = f"{got.step} {got.detail}".strip() if got.step else got.detail
                problems.append(f"{raw!r} maps to {got.genre!r} ({how}), expected {expected!r}")
        return problems


def parse_taxonomy_file(path: Path) -> object:
    """Read a .toml or .json taxonomy file into plain data, with one-line errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: taxonomy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy file: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data: object = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TaxonomyError(f"{path}: not valid TOML: {exc}") from None
    return data


def taxonomy_path(path: Path | str | None = None) -> Path:
    """Which file :func:`load_taxonomy` reads: the argument, else $GENRE_TAXONOMY, else the default."""
    if path not in (None, ""):
        return Path(path)
    env = os.environ.get(ENV_TAXONOMY, "").strip()
    return Path(env) if env else DEFAULT_TAXONOMY


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Load and validate a taxonomy: ``path``, else ``$GENRE_TAXONOMY``, else the packaged default."""
    chosen = taxonomy_path(path)
    taxonomy = Taxonomy.from_data(parse_taxonomy_file(chosen), source=str(chosen))
    log.debug("taxonomy %s: %d genres, %d aliases, %d rules", chosen, len(taxonomy.parents),
              len(taxonomy.aliases), len(taxonomy.rules))
    return taxonomy
