"""Text normalisation with an offset map back to the original string.

Scanners never look at the raw text directly: they scan a *normalised* view
and report spans mapped back to indices of the ORIGINAL Python string, so a
caller can slice / redact the text it actually holds.

Two views exist:

``normalize(text)``
    Unicode NFKC applied character by character (fullwidth digits become
    ASCII, NBSP becomes a space, ``＠`` becomes ``@`` ...) and removal of
    invisible characters: zero-width characters (U+200B..U+200F,
    U+2060..U+2064, U+FEFF), the soft hyphen U+00AD, bidi embedding /
    override / isolate controls (U+202A..U+202E, U+2066..U+2069), U+180E,
    U+034F and Unicode tag characters (U+E0000..U+E007F).  Used by the PII
    and secrets scanners.

``normalize(text, fold=True)``
    Additionally lower-cases, strips accents (``é`` -> ``e``) and folds common
    Cyrillic / Greek homoglyphs of Latin letters (``і``, ``о``, ``е`` ...).
    Used by the prompt-injection scanner only: folding is lossy and would
    corrupt e.g. Cyrillic e-mail local parts.

Fast paths: pure-ASCII input is returned as-is (identity map, no per-char
work); already-normalised non-ASCII input without invisible characters is
also returned unchanged.  Otherwise only the non-ASCII runs are processed
in Python.  The map is stored as a list of segments, so memory stays small
even for 1 MB inputs.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Any

__all__ = [
    "CharMap",
    "Composed",
    "Normalized",
    "normalize",
    "unescape",
    "unescaped",
    "has_escapes",
    "ESCAPED",
    "is_invisible",
    "without_surrogates",
    "INVISIBLE_RE",
]

# Characters removed from the normalised view.
_INVISIBLE_CLASS = (
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u180e"  # mongolian vowel separator
    "\u200b-\u200f"  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings / overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidi isolates
    "\ufeff"  # BOM / ZWNBSP
    "\U000e0000-\U000e007f"  # tag characters
)
INVISIBLE_RE = re.compile(f"[{_INVISIBLE_CLASS}]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

# Homoglyphs: Cyrillic / Greek (and a few other) letters that render like
# Latin letters.  Values are lower-case Latin because the fold view is
# lower-cased anyway.
_HOMOGLYPHS = {
    # Cyrillic lower
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "һ": "h",
    "ɡ": "g",
    "ӏ": "l",
    "ո": "n",
    "ս": "u",
    # Cyrillic upper
    "А": "a",
    "В": "b",
    "Е": "e",
    "Ё": "e",
    "К": "k",
    "М": "m",
    "Н": "h",
    "О": "o",
    "Р": "p",
    "С": "c",
    "Т": "t",
    "У": "y",
    "Х": "x",
    "Ѕ": "s",
    "І": "i",
    "Ї": "i",
    "Ј": "j",
    "Ԁ": "d",
    "Ԛ": "q",
    "Ԝ": "w",
    "Һ": "h",
    "Ӏ": "l",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "γ": "y",
    "ω": "w",
    "Α": "a",
    "Β": "b",
    "Ε": "e",
    "Ζ": "z",
    "Η": "h",
    "Ι": "i",
    "Κ": "k",
    "Μ": "m",
    "Ν": "n",
    "Ο": "o",
    "Ρ": "p",
    "Τ": "t",
    "Υ": "y",
    "Χ": "x",
    # Latin look-alikes outside ASCII
    "ı": "i",
    "ȷ": "j",
    "ℓ": "l",
    "ᴀ": "a",
    "ʀ": "r",
    "ꜱ": "s",
}
_HOMOGLYPH_RE = re.compile("[" + "".join(sorted(_HOMOGLYPHS)) + "]")


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same length, so offsets hold). A JSON string
    escape of half a UTF-16 pair ("\\ud83d") decodes to one; no UTF-8 encoder takes it, nor do the scanners'
    Aho-Corasick searches."""
    return _SURROGATE.sub("\ufffd", text)


def is_invisible(ch: str) -> bool:
    return INVISIBLE_RE.match(ch) is not None


@lru_cache(maxsize=8192)
def _map_char(ch: str, fold: bool, decode_tags: bool = False) -> str:
    """Normalised replacement for one non-ASCII character ("" = drop)."""
    if decode_tags and "\U000e0020" <= ch <= "\U000e007e":
        c = chr(ord(ch) - 0xE0000)
        return c.lower() if fold else c
    if INVISIBLE_RE.match(ch):
        return ""
    if fold and ch in _HOMOGLYPHS:
        return _HOMOGLYPHS[ch]
    out = unicodedata.normalize("NFKC", ch)
    if fold:
        if len(out) == 1 and not out.isascii():
            if out in _HOMOGLYPHS:
                return _HOMOGLYPHS[out]
            # strip accents: é -> e, ß stays
            base = unicodedata.normalize("NFKD", out)
            stripped = "".join(c for c in base if not unicodedata.combining(c))
            if len(stripped) == 1:
                out = stripped
        low = out.lower()
        if len(low) == len(out):
            out = low
    return out


class Normalized:
    """A normalised view of ``original`` plus a map back to it.

    ``segments`` is a sorted list of ``(norm_start, orig_start, norm_len,
    orig_len)``.  Identity segments have ``norm_len == orig_len`` and map
    linearly; replacement segments map every position inside them to the
    whole original span.  ``segments is None`` means identity everywhere.
    """

    __slots__ = ("original", "text", "_segments", "_starts")

    def __init__(self, original: str, text: str, segments: list[tuple[int, int, int, int]] | None):
        self.original = original
        self.text = text
        self._segments = segments
        self._starts = [s[0] for s in segments] if segments else None

    @property
    def identity(self) -> bool:
        return self._segments is None

    def _seg(self, pos: int) -> tuple[int, int, int, int]:
        assert self._segments is not None and self._starts is not None
        i = bisect_right(self._starts, pos) - 1
        if i < 0:
            i = 0
        return self._segments[i]

    def orig_start(self, pos: int) -> int:
        """Original index of the normalised character at ``pos``."""
        if self._segments is None:
            return pos
        if pos >= len(self.text):
            return len(self.original)
        ns, os_, nl, ol = self._seg(pos)
        if nl == ol:
            return os_ + (pos - ns)
        return os_

    def orig_end(self, pos: int) -> int:
        """Original exclusive end index for a normalised exclusive end ``pos``."""
        if self._segments is None:
            return pos
        if pos <= 0:
            return self.orig_start(0) if self.text else 0
        ns, os_, nl, ol = self._seg(pos - 1)
        if nl == ol:
            return os_ + (pos - ns)
        return os_ + ol

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised ``[start, end)`` span to the original text."""
        if self._segments is None:
            return start, end
        if end <= start:
            o = self.orig_start(start)
            return o, o
        return self.orig_start(start), self.orig_end(end)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Normalized(text={self.text[:40]!r}..., identity={self.identity})"


_runs = threading.local()


def _collect_run(e: UnicodeError) -> tuple[str, int]:
    assert isinstance(e, UnicodeEncodeError)
    _runs.found.append((e.start, e.end))
    return "", e.end


_RUNS_HANDLER = __name__ + ".non-ascii-runs"  # (the module's own: a handler reports to its module's list)
codecs.register_error(_RUNS_HANDLER, _collect_run)


def _non_ascii_runs(text: str) -> list[tuple[int, int]]:
    """The maximal runs of non-ASCII characters of ``text``, as ``_NON_ASCII_RUN.finditer`` finds them:
    the ASCII encoder skips ASCII at C speed and hands each run to the error handler once."""
    found: list[tuple[int, int]] = []
    _runs.found = found
    text.encode("ascii", _RUNS_HANDLER)
    return found


# the Latin-1 characters normalize() leaves as they are: NFKC keeps them and none is invisible
_LATIN1_KEPT = bytes(c for c in range(256) if unicodedata.is_normalized("NFKC", chr(c)) and not is_invisible(chr(c)))


def _is_normal(text: str) -> bool:
    """``text`` holds no invisible character and is its own NFKC form.  A Latin-1 text is when each of its
    characters is (they all start a combining sequence: none composes with its neighbour), read off
    at C speed by deleting the kept ones; ~15x cheaper than the invisible-character search."""
    try:
        return not text.encode("latin-1").translate(None, _LATIN1_KEPT)
    except UnicodeEncodeError:
        return INVISIBLE_RE.search(text) is None and unicodedata.is_normalized("NFKC", text)


def normalize(text: str, fold: bool = False, tags: str = "strip") -> Normalized:
    """Return the normalised view of ``text`` (see module docstring).

    ``tags="decode"`` maps Unicode tag characters U+E0020..U+E007E to the
    ASCII characters they shadow instead of dropping them (used by the
    injection scanner to read "ASCII smuggled" text)."""
    decode_tags = tags == "decode"
    if text.isascii():
        return Normalized(text, text.lower() if fold else text, None)
    if not fold and not decode_tags and _is_normal(text):
        return Normalized(text, text, None)
    # mostly non-ASCII text (Cyrillic, CJK, Arabic ...) is mapped by str.translate; a few non-ASCII characters in
    # ASCII text (names, quotes) by the runs loop (translate would look every ASCII character up too)
    if not decode_tags and 3 * (len(text.encode("utf-8", "surrogatepass")) - len(text)) > len(text):
        return _fold(text) if fold else _plain(text)
    return _normalize_runs(text, fold, decode_tags)


class CharMap:
    """A ``str.translate`` whose outputs are ASCII, applied at byte speed to any text.

    ``str.translate`` looks each character of a non-ASCII text up in a dict (~50 ns a character: 0.2 ms
    for 4 KB of Arabic); here the ASCII keys are applied by ``bytes.translate`` over the UTF-8 bytes
    (ASCII bytes are whole characters in UTF-8, so the other characters pass untouched) and the few
    non-ASCII keys by ``str.replace``.  ``CharMap(m)(t) == t.translate(str.maketrans(m))`` for every
    ``t``: values are ASCII (or "" to delete), so no replacement is mapped again."""

    __slots__ = ("table", "_bytes", "_delete", "_wide")

    def __init__(self, mapping: dict[str, str]) -> None:
        if not all(len(k) == 1 and v.isascii() for k, v in mapping.items()):
            raise ValueError("CharMap maps single characters to ASCII strings")
        self.table = str.maketrans({k: v or None for k, v in mapping.items()})  # (None deletes fast, "" not)
        narrow = {k: v for k, v in mapping.items() if k.isascii()}
        self._bytes: bytes | None = None
        if all(len(v) <= 1 for v in narrow.values()):
            t = bytearray(range(256))
            for k, v in narrow.items():
                if v:
                    t[ord(k)] = ord(v)
            self._bytes = bytes(t)
        self._delete = bytes(ord(k) for k, v in narrow.items() if not v)
        self._wide = tuple((k, v) for k, v in mapping.items() if not k.isascii())

    def __call__(self, text: str) -> str:
        if self._bytes is None:
            return text.translate(self.table)
        out = text.encode("utf-8", "surrogatepass").translate(self._bytes, self._delete)
        s = out.decode("utf-8", "surrogatepass")
        for k, v in self._wide:
            if k in s:
                s = s.replace(k, v)
        return s


class _FoldTable(dict):
    """code point -> its replacement (folded, or with ``fold=False`` only normalised); a ``str.translate`` table
    filled on first sight (bounded)."""

    def __init__(self, fold: bool) -> None:
        super().__init__()
        self.fold = fold

    def __missing__(self, k: int) -> str:
        c = chr(k)
        v = (c.lower() if self.fold else c) if k < 128 else _map_char(c, self.fold)
        if len(self) > 65536:
            self.clear()
        self[k] = v
        return v


class _OneTable(dict):
    """code point -> its replacement in ``full`` (or ``one``) when that is exactly one character, else ``odd``
    (dropped or expanded)."""

    def __init__(self, full: _FoldTable, odd: str, one: str | None = None) -> None:
        super().__init__()
        self.full, self.odd, self.one = full, odd, one
        self._arr: Any = None  # the numpy array of :meth:`map`, made on first use

    def __missing__(self, k: int) -> str:
        v = self.full[k]
        v = self.odd if len(v) != 1 else self.one or v
        if len(self) > 65536:
            self.clear()
        self[k] = v
        return v

    def map(self, text: str) -> str:
        """``text.translate(self)``. A long text is mapped by one numpy gather from an array of the Basic
        Multilingual Plane's code points, each filled from this table when first seen (``str.translate``
        looks each character up in the dict: 0.15 ms for 4 KB of Arabic)."""
        if len(text) < _GATHER_MIN:
            return text.translate(self)
        import numpy as np  # (loaded with the classifier; only long non-ASCII texts come here)

        arr = self._arr
        if arr is None:
            arr = self._arr = np.full(0x10000, _UNSEEN, dtype=np.uint32)
        c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        bmp = np.minimum(c, 0xFFFF)
        out = arr[bmp]
        unseen = out == _UNSEEN
        if unseen.any():
            for k in np.unique(bmp[unseen]).tolist():
                arr[k] = ord(self[k])
            out = arr[bmp]
        astral = np.flatnonzero(c > 0xFFFF)
        for i in astral.tolist():  # (emoji, tag characters: one at a time)
            out[i] = ord(self[int(c[i])])
        return out.tobytes().decode("utf-32-le", "surrogatepass")


_ODD = "\uffff"  # (a noncharacter: a text that holds one is mapped by the two-pass path)
_GATHER_MIN = 256  # characters: a shorter text is mapped by str.translate (the gather's fixed cost is ~10 µs)
_UNSEEN = 0xFFFFFFFF  # (no code point)
_FOLD_TABLE = _FoldTable(True)
_MARK_TABLE = _OneTable(_FOLD_TABLE, "b", "a")
_ONE_TABLE = _OneTable(_FOLD_TABLE, _ODD)
_NORM_TABLE = _FoldTable(False)
_NORM_MARKS = _OneTable(_NORM_TABLE, "b", "a")
_NORM_ONE = _OneTable(_NORM_TABLE, _ODD)


def _fold(text: str) -> Normalized:
    """``normalize(text, fold=True)`` by ``str.translate`` (see :func:`_translated`)."""
    return _translated(text, _FOLD_TABLE, _ONE_TABLE, _MARK_TABLE)


def _plain(text: str) -> Normalized:
    """``normalize(text)`` (not folded) by ``str.translate`` (see :func:`_translated`)."""
    return _translated(text, _NORM_TABLE, _NORM_ONE, _NORM_MARKS)


def _translated(text: str, full: _FoldTable, one_table: _OneTable, mark_table: _OneTable) -> Normalized:
    """``text`` mapped by ``str.translate`` (C speed per character) instead of a Python loop over the
    non-ASCII characters: the same text and segments as :func:`_normalize_runs`. Characters that map to one
    character keep their offsets; only the others (invisible characters dropped, ligatures expanded) cut the
    identity into segments. One pass maps every character that maps to one character and marks the others
    ``_ODD`` (same offsets); a text that holds ``_ODD`` itself takes a pass that marks them apart and a second
    that maps."""
    if _ODD in text:
        marks = mark_table.map(text)
        odd = "b"
        one = None
    else:
        marks = one = one_table.map(text)
        odd = _ODD
    p = marks.find(odd)
    if p < 0:
        return Normalized(text, one if one is not None else text.translate(full), None)
    pieces: list[str] = []
    segs: list[tuple[int, int, int, int]] = []
    npos = last = 0
    while p >= 0:
        if p > last:
            pieces.append(one[last:p] if one is not None else text[last:p].translate(full))
            segs.append((npos, last, p - last, p - last))
            npos += p - last
        r = full[ord(text[p])]
        if r:
            pieces.append(r)
            segs.append((npos, p, len(r), 1))
            npos += len(r)
        last = p + 1
        p = marks.find(odd, last)
    if last < len(text):
        pieces.append(one[last:] if one is not None else text[last:].translate(full))
        segs.append((npos, last, len(text) - last, len(text) - last))
    out = "".join(pieces)
    if len(segs) == 1 and segs[0][0] == 0 and segs[0][1] == 0 and segs[0][2] == len(text) == len(out):
        return Normalized(text, out, None)  # (as the loop decides it)
    if not segs:
        return Normalized(text, out, [(0, len(text), 0, 0)])
    return Normalized(text, out, segs)


def _normalize_runs(text: str, fold: bool, decode_tags: bool) -> Normalized:
    """The general path: ASCII stretches as they are (lower-cased when folding), each non-ASCII character
    through :func:`_map_char`."""
    pieces: list[str] = []
    segs: list[tuple[int, int, int, int]] = []
    npos = 0  # current length of the normalised output
    # pending identity segment (norm_start, orig_start, length)
    id_ns = 0
    id_os = 0
    id_len = 0

    def flush_identity() -> None:
        nonlocal id_len
        if id_len:
            segs.append((id_ns, id_os, id_len, id_len))
            id_len = 0

    last = 0
    for a, b in _non_ascii_runs(text):
        if a > last:  # ASCII stretch: identity
            chunk = text[last:a]
            pieces.append(chunk.lower() if fold else chunk)
            if id_len and id_os + id_len == last:
                id_len += a - last
            else:
                flush_identity()
                id_ns, id_os, id_len = npos, last, a - last
            npos += a - last
        for i in range(a, b):
            ch = text[i]
            rep = _map_char(ch, fold, decode_tags)
            if len(rep) == 1:
                pieces.append(rep)
                if id_len and id_os + id_len == i:
                    id_len += 1
                else:
                    flush_identity()
                    id_ns, id_os, id_len = npos, i, 1
                npos += 1
            else:
                flush_identity()
                if rep:
                    pieces.append(rep)
                    segs.append((npos, i, len(rep), 1))
                    npos += len(rep)
                # dropped characters leave no segment: the gap shows up as a
                # jump in orig_start between neighbouring segments.
        last = b
    if last < len(text):
        chunk = text[last:]
        pieces.append(chunk.lower() if fold else chunk)
        if id_len and id_os + id_len == last:
            id_len += len(text) - last
        else:
            flush_identity()
            id_ns, id_os, id_len = npos, last, len(text) - last
        npos += len(text) - last
    flush_identity()
    out = "".join(pieces)
    if len(segs) == 1 and segs[0][0] == 0 and segs[0][1] == 0 and segs[0][2] == len(text) == len(out):
        return Normalized(text, out, None)
    if not segs:
        # everything was dropped
        return Normalized(text, out, [(0, len(text), 0, 0)])
    return Normalized(text, out, segs)


# -- JSON string escapes ------------------------------------------------------------------------------------
# A JSON document's strings as a serialiser writes them: "\u00fc" for "ü" (ensure_ascii), "\n" for a line break,
# '\"' for a quotation mark, "\/" for a slash (PHP). A tool call's arguments are JSON inside a JSON string, so a
# gateway's scanner reads them escaped once or twice more than the user wrote them.
_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|([nrtbf"\\/]))')
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "/": "/"}
_LOW_SURROGATE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
# what says a text holds JSON strings as serialised (a quotation mark, a code point or a slash escaped), not a
# Windows path's "C:\new", a regex's "\d" or LaTeX's "\fbox": only then are its escapes read decoded
ESCAPED = re.compile(r'\\(?:u[0-9a-fA-F]{4}|"|/)')
_ANY_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|[nrt"/])')
_MAX_LEVELS = 2  # JSON inside a JSON string: a tool call's arguments in a request body


def unescape(text: str) -> Normalized:
    """``text`` with its JSON string escapes read as the characters they stand for (``\\u00fc`` -> ``ü``,
    ``\\n`` -> a line break, ``\\"`` -> ``"``; a surrogate pair as one character, a lone surrogate as U+FFFD),
    with the map back to ``text``: a run of escapes maps to the whole run (one segment per run)."""
    if "\\" not in text:
        return Normalized(text, text, None)
    pieces: list[str] = []
    segs: list[tuple[int, int, int, int]] = []
    npos = last = 0
    run_ns = run_os = -1  # the run of adjacent escapes being built: its start in the output and in ``text``
    run_n = 0
    for m in _ESCAPE.finditer(text):
        a, b = m.span()
        if a < last:
            continue  # (inside a surrogate pair's low half, already read)
        if a > last or run_ns < 0:
            if run_ns >= 0:
                segs.append((run_ns, run_os, run_n, last - run_os))
            if a > last:
                pieces.append(text[last:a])
                segs.append((npos, last, a - last, a - last))
                npos += a - last
            run_ns, run_os, run_n = npos, a, 0
        if m.group(1) is not None:
            cp = int(m.group(1), 16)
            if 0xD800 <= cp <= 0xDBFF and _LOW_SURROGATE.match(text, b):
                low = int(text[b + 2 : b + 6], 16)
                ch = chr(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00))
                b += 6
            elif 0xD800 <= cp <= 0xDFFF:
                ch = "\ufffd"
            else:
                ch = chr(cp)
        else:
            ch = _SIMPLE_ESCAPES[m.group(2)]
        pieces.append(ch)
        npos += 1
        run_n += 1
        last = b
    if run_ns < 0:
        return Normalized(text, text, None)
    segs.append((run_ns, run_os, run_n, last - run_os))
    if last < len(text):
        pieces.append(text[last:])
        segs.append((npos, last, len(text) - last, len(text) - last))
    return Normalized(text, "".join(pieces), segs)


class Composed:
    """Views in a row: each of ``views`` is a view of the one before's text; spans map back through all of them to
    the first one's original."""

    __slots__ = ("original", "text", "_views")

    def __init__(self, *views: Normalized) -> None:
        self.original = views[0].original
        self.text = views[-1].text
        self._views = views

    def span(self, start: int, end: int) -> tuple[int, int]:
        for v in reversed(self._views):
            start, end = v.span(start, end)
        return start, end


# ...or a JSON key and a line break or tab escaped ('{"body": "Hi,\\nf.lang@…"}')
_JSON_KEY = re.compile(r'"[^"\\\n]{1,64}"[ \t]*:')
_LINE_ESCAPE = re.compile(r"\\[nrt]")


def has_escapes(text: str) -> bool:
    """Whether ``text`` holds serialised JSON strings whose escapes the scanners read decoded (:func:`unescaped`)."""
    if "\\" not in text:
        return False
    return ESCAPED.search(text) is not None or (
        _LINE_ESCAPE.search(text) is not None and _JSON_KEY.search(text) is not None
    )


def unescaped(text: str) -> Composed:
    """The scanners' view of a text that holds serialised JSON strings (:data:`ESCAPED`): its escapes read decoded,
    twice where a decoded text is serialised JSON again (a tool call's arguments), then :func:`normalize`'s view."""
    views = [unescape(text)]
    # (a text decoded once is known to be JSON's: any escape left in it is one more level's, "\\n" included)
    while len(views) < _MAX_LEVELS and "\\" in views[-1].text and _ANY_ESCAPE.search(views[-1].text):
        views.append(unescape(views[-1].text))
    views.append(normalize(views[-1].text))
    return Composed(*views)
