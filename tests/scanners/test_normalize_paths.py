"""normalize()'s fast paths give exactly what its per-character loop gives: the folded text and the offset map."""

import importlib
import random
import unicodedata

import pytest

N = importlib.import_module("leash_cli.scanners.normalize")

ALPHABET = list("abcXYZ 019.,\n\t") + [
    "\u00e9", "\u0130", "\ufb01", "\u200b", "\u200d", "\u202e", "\U000e0041", "\u0301", "\u0436", "\u0416",
    "\u4f60", "\U0001f600", "\u00df", "\u1e9e", "\uff21", "\u2460", "\u00a0", "\u00ad", "\ufeff", "\u0627",
    "\u0915", "\u093f", "\u0435", "\u03b1", "\u2019", "\ud800", "\u3000", "\u2126", "\u212a", "\u01c4", "\uffff", "\udc00", "\ud83d\ude00",
]  # fmt: skip


def _texts(n: int, seed: int):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 80)))


@pytest.mark.parametrize("fold", [True, False])
def test_translate_path_equals_the_loop(fold):
    by_table = N._fold if fold else N._plain
    for t in _texts(8000, 1):
        if t.isascii():
            continue  # (normalize() returns ASCII text before either path)
        a, b = by_table(t), N._normalize_runs(t, fold, False)
        assert (a.text, a._segments) == (b.text, b._segments), repr(t)
        for i in range(len(a.text) + 1):
            assert a.span(0, i) == b.span(0, i)


@pytest.mark.parametrize("fold", [True, False])
def test_the_gather_path_of_long_texts_equals_the_loop(fold):
    """Texts of at least ``_GATHER_MIN`` characters are mapped by a numpy gather (``_OneTable.map``)."""
    by_table = N._fold if fold else N._plain
    rng = random.Random(4)
    for _ in range(400):
        t = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(N._GATHER_MIN, 3 * N._GATHER_MIN)))
        a, b = by_table(t), N._normalize_runs(t, fold, False)
        assert (a.text, a._segments) == (b.text, b._segments), repr(t)


@pytest.mark.parametrize("table", ["_ONE_TABLE", "_MARK_TABLE", "_NORM_ONE", "_NORM_MARKS"])
def test_the_gather_maps_every_code_point_as_str_translate(table):
    tab = getattr(N, table)
    every = "".join(chr(c) for c in range(0x110000) if c < 0x10000 or c % 97 == 0)  # astral: a sample
    reference = every.translate(tab)
    assert tab.map(every) == reference  # every code point first seen by the gather
    assert tab.map(every) == reference  # and then read from its array
    for i in range(0, len(every), 5000):  # pieces long enough for the gather, each alone
        assert tab.map(every[i : i + 5000]) == reference[i : i + 5000]


def test_non_ascii_runs_equal_the_regex():
    for t in _texts(3000, 2):
        assert N._non_ascii_runs(t) == [m.span() for m in N._NON_ASCII_RUN.finditer(t)], repr(t)


def test_latin1_normal_check_equals_the_search_and_nfkc_check():
    def reference(t: str) -> bool:
        return N.INVISIBLE_RE.search(t) is None and unicodedata.is_normalized("NFKC", t)

    latin1 = [chr(c) for c in range(256)]
    for a in latin1:
        for b in latin1:
            assert N._is_normal(a + b) == reference(a + b), repr(a + b)
    for t in _texts(3000, 3):
        assert N._is_normal(t) == reference(t), repr(t)


def test_char_map_equals_str_translate():
    """CharMap's byte-speed path (ASCII keys over UTF-8, the rest by replace) gives what str.translate gives,
    deletions included; the injection scanner's maps are CharMaps."""
    injection = importlib.import_module("leash_cli.scanners.injection")
    maps = [
        {"a": "b", "X": " ", ".": "", "\u2019": " ", "\u00e9": "e", "\u0416": ""},
        dict.fromkeys("0123456789 \t\n.", ""),
        {c: " " for c in '!"#,.\u2018\u2019\u201c\u201d\u2014'},
    ]
    every = "".join(map(chr, range(0x110000)))
    for x in maps:
        m, table = N.CharMap(x), str.maketrans(x)
        assert m._bytes is not None  # (the byte path is the one under test)
        assert m(every) == every.translate(table)
        for t in _texts(1500, 3):
            assert m(t) == t.translate(table), repr(t)
    # the scanner's maps, against the tables they replaced
    for m, x in [
        (injection._WORD_SPLIT, {c: " " for c in injection._WORD_SPLIT_CHARS}),
        (injection._LEET_TABLE, {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}),
        (injection._NOT_LETTERS, dict.fromkeys("0123456789 \t\n\r.,;:!?-_=+*/\\|()[]{}<>\"'`~@#$%^&", "")),
    ]:
        assert m(every) == every.translate(str.maketrans(x))
    assert injection._LEET_SPLIT(every) == every.translate(injection._LEET_SPLIT.table)


def test_char_map_refuses_non_ascii_values():
    with pytest.raises(ValueError):
        N.CharMap({"a": "\u00e9"})
