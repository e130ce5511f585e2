"""The prompt-injection classifier: hashed character n-grams scored by a linear model, in numpy.

The text (already normalised: NFKC, invisible characters dropped, homoglyphs folded, lower-cased)
becomes an array of code points (one ``str.encode("utf-32-le")`` + ``np.frombuffer``).  Whitespace
folds to a space and digits to ``0``.  For every position ``i`` and every order ``n`` in
:data:`ORDERS` the n-gram ending at ``i`` is hashed with a polynomial hash built order by order
(``h_n[i] = h_{n-1}[i-1] * P + c[i]``, whole-array operations) and mixed into ``2**BITS`` buckets.
A bucket's weight is gathered with ``np.take``; the per-position sums go through one ``cumsum`` so
every window's logit is a difference of two prefix sums:

    logit(window) = bias + mean(weights of its n-grams) + rule part

Windows are ``WINDOW`` characters long with a stride of ``WINDOW // 2`` (a short text is one
window); the text's logit is the maximum over its windows, so one injected paragraph in a long
document is not diluted by the rest.  Cost: linear in the text, a handful of numpy passes; a 4 KB
prompt takes ~60 µs, 1 MB ~40 ms.  (The mean, not the sum: a window's part does not grow with its length.)

A second linear model, the *document model*, reads the same n-grams of the whole text (they are hashed
once for both): its logit is ``doc_bias + sum(weights) / sqrt(count)``, so it weighs how much of the text
is evidence rather than its mean.  It also reads words (:func:`word_grams`: each word whole, and each
two words in a row, hashed into the same buckets), so what a text says across more than five characters
("was blocked because it asked", "shall prevent instructions in") counts as well.  It reads the whole text
up to :data:`DOC_WHOLE` characters; beyond, windows of :data:`DOC_WINDOW` characters (half-overlapping, the
maximum taken), or -- where the scanner's gate says where to look -- each place it pointed at with
:data:`DOC_CONTEXT` characters either side (:meth:`Model.doc_logit`).  Runs of one character fold to three
first (:func:`fold_runs`).  It learnt from hand-written attacks and hard benign texts (``data/injection/team/``) as well as the public sources; four numbers
(``mix``) fitted on held-out folds combine the two models and the fixed priors (see
``injection.InjectionScanner.analyse``).

The weights (``injection_model.npz``, float16, ~1 MB) are built by ``scripts/train_injection.py``
from the pinned public sources of ``data/injection/SOURCES.md`` and the team's texts; nothing is
downloaded at run time.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import os
import re
import threading
import unicodedata
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BITS",
    "ORDERS",
    "WINDOW",
    "DOC_WHOLE",
    "DOC_WINDOW",
    "Model",
    "load",
    "mask_addresses",
    "ngram_ids",
    "ngram_matrix",
    "word_grams",
    "MODEL_PATH",
    "RULE_FEATURES",
]

BITS = 18
ORDERS = (1, 2, 3, 4, 5)
WINDOW = 256
#: the document model reads a text of up to this many characters whole...
DOC_WHOLE = 1024
#: ...and a longer one in windows of this many characters, every half window
DOC_WINDOW = 512
#: in a long text read only where a rule pointed (see ``injection.py``'s gate): this much context either side
DOC_CONTEXT = 48
DOC_MAX_PLACES = 16
# the document model sums its n-grams' weights, so a run of one character ("sk-XXXXXXXX", "=======",
# "|-----|") would count its n-grams again and again: runs longer than three fold to three first
_RUN = re.compile(r"(.)\1{3,}", re.S)


_RUN_NUMPY = 128  # from this length the runs are found with numpy (the regex costs ~25 ns a character)


def fold_runs(text: str) -> str:
    """``text`` with every run of more than three equal characters cut to three (the document model's view);
    ``text`` itself when it has none."""
    if len(text) < _RUN_NUMPY:
        return _RUN.sub(r"\1\1\1", text) if _RUN.search(text) else text
    c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    same = c[1:] == c[:-1]
    drop = same[2:] & same[1:-1] & same[:-2]  # drop[i]: c[i + 3] is the fourth (or later) of a run
    if not drop.any():
        return text
    keep = np.ones(len(c), dtype=bool)
    keep[3:] = ~drop
    return c[keep].tobytes().decode("utf-32-le", "surrogatepass")


def fold_runs_of(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """``[fold_runs(text[a:b]) for a, b in spans]``, the runs found in one pass over ``text`` (when a span is
    long enough for numpy's calls to cost less than the regex over the short ones).

    Whether a character is the fourth of a run depends on the three before it: inside a span, on the span
    alone. So a span whose first three characters are no fourth of ``text``'s runs folds as its part of
    ``text`` folded; with four spans or more to cut, close together, that part is folded once for all of
    them. A span that starts inside a run is folded alone."""
    if not any(b - a >= _RUN_NUMPY for a, b in spans):
        return [fold_runs(text[a:b]) for a, b in spans]
    if text.isascii():
        c, codec = np.frombuffer(text.encode("ascii"), dtype=np.uint8), ("ascii", "strict")
    else:
        c, codec = (
            np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32),
            ("utf-32-le", "surrogatepass"),
        )
    same = c[1:] == c[:-1]
    fourth = np.zeros(len(c), dtype=bool)
    fourth[3:] = same[2:] & same[1:-1] & same[:-2]  # fourth[p]: c[p - 3 .. p] are one character

    def own(a: int, b: int) -> str:  # the span folded alone: its first three kept (their runs start before it)
        keep = ~fourth[a:b]
        keep[:3] = True
        return c[a:b][keep].tobytes().decode(*codec)

    n = len(text)
    cut: list[int] = []  # spans that may be taken from one fold of the part of the text they cover
    out = []
    for j, (a, b) in enumerate(spans):
        if not 0 <= a <= b <= n:
            out.append(fold_runs(text[a:b]))  # (out of the text: as slicing gives it)
        elif not fourth[a:b].any():
            out.append(text[a:b])  # no run to cut
        elif len(spans) >= _WHOLE_FOLD and not fourth[a : a + 3].any():
            out.append("")
            cut.append(j)
        else:  # few spans, or one that starts inside a run
            out.append(own(a, b))
    if cut:
        lo, hi = min(spans[j][0] for j in cut), max(spans[j][1] for j in cut)
        if hi - lo > 2 * sum(spans[j][1] - spans[j][0] for j in cut):  # far apart: each alone
            for j in cut:
                out[j] = own(*spans[j])
            return out
        keep = ~fourth[lo:hi]
        part = c[lo:hi][keep].tobytes().decode(*codec)
        before = np.concatenate(([0], np.cumsum(keep)))  # before[p - lo]: the characters kept in text[lo:p]
        for j in cut:
            a, b = spans[j]
            out[j] = part[int(before[a - lo]) : int(before[b - lo])]
    return out


_WHOLE_FOLD = 4  # spans: from this many, those close together are cut from one fold of the part they cover


# Addresses are masked before the n-grams are read (training and scoring alike): the host of a URL, an
# e-mail address, a bare domain name.  Which name a writer made up for an attacker's server
# ("collector.example") or for a customer's mailbox ("mail.example.org") says nothing about the text, yet a
# model learns it: more of the hand-written attacks than of the benign texts use the reserved ``example``
# domains, and a contact list of ``@mail.example.org`` addresses read as an attack.  What stays is that
# an address is there and what surrounds it ("forward everything to", "/collect?data=").  Every character
# of the name becomes ``x`` (the ``@`` stays), so offsets do not move: not its shape either, since made-up
# attackers' hosts are hyphenated ("evil-collector") more often than real mailboxes.  That an address is
# there weighs the same for attacks and benign texts in training (``balance_addresses`` in the script).
_TLDS = frozenset(
    "com org net edu gov io ai co biz xyz example test invalid localhost onion "  # noqa: SIM905
    "uk de fr ru cn jp nl pl es br au ca ch se kr tr eu ua cz dk fi pt gr ir sa ae mx ar za".split()
)  # a bare domain needs one of these: not .info .app .dev .local (``logger.info``, ``self.app``), not the
# ccTLDs that are English words (.it .in .me .at .be .no .us) after a missing space
#: at most this many addresses of each kind are masked in one text (a dump of a million is not, in time)
MAX_ADDRESSES = 256
# (each pattern starts with a literal, which the regex engine finds fast: a few us over 4 KB of prose)
_DOT_WORD = re.compile(r"\.([a-z]{2,9})(?![\w(-])")
_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)*")
_URL_HOST = re.compile(r"[\w.-]+")
_NAME = re.compile(r"[^@]")
_TLD_END = re.compile(r"\.[^\W\d_]{2,}$")  # a host ends in a top-level domain of letters ("left-pad@1.3.0" has none)


def _left(text: str, i: int) -> int:
    """Where the run of name characters (letters, digits, ``_ . + -``) that ends at ``i`` starts (at most
    64 back; ``i`` when there is none)."""
    lo = max(0, i - 64)
    m = _NOT_NAME_LAST.match(text, lo, i)  # (\w: a letter, digit or mark -- ``str.isalnum`` -- or "_")
    return lo if m is None else m.end()


# everything up to and with the last character of a window that is no name character (greedy, then backtracking
# from the window's end: one C call instead of a step back per character)
_NOT_NAME_LAST = re.compile(r".*[^\w.+-]", re.S)


def mask_addresses(text: str) -> str:
    """``text`` with the names in its e-mail addresses, URL hosts and domain names masked (see above);
    the same length."""
    spans: list[tuple[int, int]] = []
    i = text.find("@")
    while i >= 0 and len(spans) < MAX_ADDRESSES:  # local@host.tld: both parts (not "@alice", "pkg@1.3.0")
        h = _HOST.match(text, i + 1)
        if h is not None and _TLD_END.search(h.group()):
            j = _left(text, i)
            if j < i:
                spans.append((j, h.end()))
        i = text.find("@", i + 1)
    i = text.find("://")
    limit = len(spans) + MAX_ADDRESSES
    while i >= 0 and len(spans) < limit:  # scheme://host: the host only (the path stays)
        h = _URL_HOST.match(text, i + 3)
        if h is not None:
            spans.append((i + 3, h.end()))
        i = text.find("://", i + 3)
    limit = len(spans) + MAX_ADDRESSES
    for m in _DOT_WORD.finditer(text):  # a bare domain: its labels up to and with the top-level domain
        if len(spans) >= limit:
            break
        if m.group(1) in _TLDS:
            j = _left(text, m.start())
            if j < m.start():
                spans.append((j, m.end()))
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    pos = 0
    for a, b in spans:
        a = max(a, pos)
        if a >= b:
            continue
        out.append(text[pos:a])
        name = text[a:b]
        out.append(_NAME.sub("x", name) if "@" in name else "x" * len(name))
        pos = b
    out.append(text[pos:])
    return "".join(out)


_P = np.uint32(1000003)
_MIX = np.uint32(2654435761)
_SHIFT = np.uint32(32 - BITS)
_ORDER_SALT = [np.uint32((0x9E3779B9 * (n + 1)) & 0xFFFFFFFF) for n in range(max(ORDERS) + 1)]

MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "injection_model.npz")

#: the dense rule features appended to the hashed n-grams (computed by ``injection.py``), in order
RULE_FEATURES = (
    "override",
    "new_instr",
    "role_tag",
    "jailbreak",
    "extract",
    "exfil",
    "encoded",
    "ml_override",
    "ml_extract",
    "ml_persona",
    "tool_exfil",
    "delimiter",
    "invisible",
    "addressed",
    "edu",
    "quoted",
)


#: how a window's summed weights are scaled by its n-gram count: count ** NORM_POWER
NORM_POWER = 1.0


def _norm(count):
    return count if NORM_POWER == 1.0 else count**NORM_POWER


_K = max(ORDERS)
# (row of the n-gram matrix, position in a piece) of each n-gram that would start before the piece
_HEAD_ROW, _HEAD_POS = (
    np.array(x, dtype=np.int64) for x in zip(*((k, j) for k, n in enumerate(ORDERS) for j in range(n - 1)))
)
_ROWS = np.array([n in ORDERS for n in range(1, _K + 1)])
_ALL_ROWS = bool(_ROWS.all())
_SALTS = np.array([_ORDER_SALT[n] for n in range(1, _K + 1)], dtype=np.uint32)[:, None]
# code points below 128 through one table: whitespace -> space, digits -> "0"
_LUT = np.arange(128, dtype=np.uint32)
_LUT[[9, 10, 11, 12, 13]] = 32
_LUT[48:58] = 48


#: a longer run of word characters (a CJK sentence, a base64 blob) is no word (see :func:`word_grams`)
MAX_WORD = 24
_WORD_SALT = {1: np.uint32(0x5BD1E995), 2: np.uint32(0x68E31DA4), 3: np.uint32(0x1B873593)}
_PINV = np.uint32(pow(1000003, -1, 1 << 32))  # the inverse of _P modulo 2**32


@functools.cache
def _word_chars() -> np.ndarray:
    """Which code points of the Basic Multilingual Plane are word characters: letters, marks and numbers
    (Unicode categories L*, M*, N*); built on first use (~20 ms)."""
    cat = unicodedata.category
    return np.fromiter((cat(chr(i))[0] in "LMN" for i in range(0x10000)), dtype=bool, count=0x10000)


_pows = (np.ones(1, dtype=np.uint32), np.ones(1, dtype=np.uint32))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``P**i`` and ``P**-i`` modulo 2**32 for ``i < n`` (tables kept and grown by doubling)."""
    global _pows
    pw, ipw = _pows
    if len(pw) < n:
        size = max(n, 2 * len(pw), 4096)
        with np.errstate(over="ignore"):
            pw = np.full(size, _P, dtype=np.uint32)
            ipw = np.full(size, _PINV, dtype=np.uint32)
            pw[0] = ipw[0] = 1
            pw, ipw = np.cumprod(pw, dtype=np.uint32), np.cumprod(ipw, dtype=np.uint32)
        _pows = (pw, ipw)
    return pw[:n], ipw[:n]


def word_grams(c: np.ndarray, orders: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The word n-grams of the code array ``c`` of each order in ``orders`` (1: a word, 2: two words in a
    row): the position of each one's last character and its bucket, as int64 arrays.  A word is a run of
    letters, marks and digits (``_`` and all punctuation separate words: ``send_email`` is two) of at most
    :data:`MAX_WORD`; an n-gram is n words in a row, whatever separates them, none of them too long.  Each
    word is hashed whole (a polynomial hash from prefix sums, so the pass is linear), then the words of an
    n-gram are combined and the result salted by its order, mixed and cut to ``BITS`` like the character
    n-grams (whose buckets they share)."""
    n = len(c)
    if not orders or n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    table = _word_chars()
    w = table[c] if int(c.max()) < 0x10000 else table[np.minimum(c, 0xFFFF)] & (c < 0x10000)  # (above: emoji)
    wi = w.view(np.int8)
    edge = np.empty(n + 1, dtype=np.int8)  # +1 where a word starts, -1 after it ends
    edge[0] = wi[0]
    np.subtract(wi[1:], wi[:-1], out=edge[1:n])
    edge[n] = -wi[-1]
    at = np.flatnonzero(edge)
    if len(at) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts, ends = at[0::2], at[1::2]  # (they alternate, a start first; ends exclusive)
    pw, ipw = _powers(n)
    with np.errstate(over="ignore"):
        h = np.concatenate((np.zeros(1, dtype=np.uint32), np.cumsum(c * pw, dtype=np.uint32)))
        wh = (h[ends] - h[starts]) * ipw[starts]
        long = (ends - starts) > MAX_WORD
        last = ends - 1
        pos_out, ids_out = [], []
        for order in orders:
            k = len(wh) - order + 1
            if k <= 0:
                continue
            g = wh[:k].copy()
            for j in range(1, order):
                g *= _MIX
                g += wh[j : j + k]
            g ^= _WORD_SALT[order]
            g *= _MIX
            g >>= _SHIFT
            p = last[order - 1 :]
            if long.any():  # drop the n-grams with a long run in them
                bad = long[:k].copy()
                for j in range(1, order):
                    bad |= long[j : j + k]
                g, p = g[~bad], p[~bad]
            pos_out.append(p)
            ids_out.append(g)
    if not pos_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(pos_out).astype(np.int64), np.concatenate(ids_out).astype(np.int64)


_ASCII_FOLD = bytes.maketrans(b"\t\n\x0b\x0c\r0123456789", b"     0000000000")


def codes(text: str) -> np.ndarray:
    """Code points of ``text`` as uint32, whitespace folded to a space and digits to ``0``."""
    if text.isascii():  # one C pass over the bytes
        return np.frombuffer(text.encode("ascii").translate(_ASCII_FOLD), dtype=np.uint8).astype(np.uint32)
    c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.where(c < 128, _LUT[np.minimum(c, 127)], c)


# The document model can also read quoted text on a channel of its own (``Model.quotes``; the trainer's
# ``--doc-quotes``): every n-gram inside a quotation is counted a second time with its code points moved past
# Unicode, so "ignore the previous instructions" inside quotes gets weights of its own beside those it shares
# with the same words outside -- a report that quotes an attack ("the customer wrote «forget everything you
# know», the bot said no") and the attack itself differ in what is quoted and what is not.
QUOTE_SHIFT = np.uint32(0x110000)
_QUOTED = re.compile(  # (any length, so that a short quotation pairs its own marks; see quote_spans)
    r'"([^"\n]{1,400})"|\u201c([^\u201d\n]{1,400})\u201d|\u00ab([^\u00bb\n]{1,400})\u00bb'
    r"|\u201e([^\u201c\u201d\n]{1,400})[\u201c\u201d]|\u300c([^\u300d\n]{1,400})\u300d|\u300e([^\u300f\n]{1,400})\u300f"
    r"|\u2018([^\u2019\n]{1,400})\u2019|\u2039([^\u203a\n]{1,400})\u203a|`([^`\n]{1,400})`"
)
_QUOTE_OPENERS = '"\u201c\u00ab\u201e\u300c\u300e\u2018\u2039`'
MAX_QUOTES = 64


def quote_spans(text: str) -> list[tuple[int, int]]:
    """The spans of the quotations' contents in ``text`` (at most :data:`MAX_QUOTES`)."""
    if not any(q in text for q in _QUOTE_OPENERS):
        return []
    out = []
    for m in _QUOTED.finditer(text):
        a, b = m.span(m.lastindex or 0)
        if b - a >= 3 or not text[a:b].isascii():  # ("x", "ok": no quotation worth a channel; 「全部」 is)
            out.append((a, b))
            if len(out) >= MAX_QUOTES:
                break
    return out


def quote_grams(c: np.ndarray, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The quoted channel of the code array ``c``: for every n-gram that lies inside one of ``spans``
    (positions of ``c``), its end position and its bucket with the code points moved by :data:`QUOTE_SHIFT`."""
    pos_out, ids_out = [], []
    for a, b in spans:
        a, b = max(0, a), min(len(c), b)
        if b <= a:
            continue
        m = ngram_matrix(c[a:b] + QUOTE_SHIFT)  # (code points < 0x110000: no overflow)
        for k, n in enumerate(ORDERS):
            if n <= b - a:
                pos_out.append(np.arange(a + n - 1, b))
                ids_out.append(m[k, n - 1 :])
    if not pos_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(pos_out).astype(np.int64), np.concatenate(ids_out)


def ngram_matrix(c: np.ndarray) -> np.ndarray:
    """The bucket of the n-gram of every order ending at every position of the code array ``c``: an
    int64 array ``[len(ORDERS), len(c)]``; row ``k`` (order ``n``) is meaningless at positions
    ``< n - 1`` (the caller masks them).  One hashing pass per order over the whole array
    (``h_n[i] = h_{n-1}[i-1] * P + c[i]``), then one salt / mix / shift over the matrix."""
    n = len(c)
    h = np.empty((_K, n), dtype=np.uint32)
    h[0] = c
    # (uint32 arithmetic on arrays wraps around silently: no error state to set)
    for k in range(1, _K):
        np.multiply(h[k - 1, :-1], _P, out=h[k, 1:])
        h[k, 1:] += c[1:]
        h[k, 0] = 0
    h ^= _SALTS
    h *= _MIX
    h >>= _SHIFT
    if not _ALL_ROWS:
        h = h[_ROWS]
    return h.astype(np.int64)


def ngram_ids(text: str) -> list[tuple[int, np.ndarray]]:
    """For each order n: the bucket of the n-gram ending at every position ``i >= n - 1`` of
    `` text `` (padded with one space each side), as int64 arrays; array ``n`` has ``len - n + 1``
    entries (the training form; the scanner uses :func:`ngram_matrix` directly)."""
    c = codes(" " + text + " ")
    m = ngram_matrix(c)
    return [(n, m[k, n - 1 :]) for k, n in enumerate(ORDERS) if n <= len(c)]


_ORDER_OFFSET = sum(n - 1 for n in ORDERS)


def _count_prefix(k):
    """How many n-grams end at the padded positions ``0 .. k-1`` (``k`` an int or an int array): position
    ``i`` ends ``|{n in ORDERS : n <= i + 1}|`` of them."""
    if isinstance(k, int):
        if k >= _K - 1:
            return float(len(ORDERS) * k - _ORDER_OFFSET)
        return float(sum(max(k - (n - 1), 0) for n in ORDERS))
    out = (len(ORDERS) * k - _ORDER_OFFSET).astype(np.float64)  # (every order ends at i >= _K - 1)
    small = k < _K - 1
    if small.any():
        out[small] = _PREFIX_SMALL[k[small]]
    return out


_VECTOR_WINDOWS = 10  # windows to score: from this many, in one numpy pass
_PREFIX_SMALL = np.array([float(sum(max(k - (n - 1), 0) for n in ORDERS)) for k in range(_K)])


def window_starts(n: int) -> list[int]:
    """Where the windows of a padded text of ``n`` characters start: every ``WINDOW // 2``, and one
    flush with the end."""
    if n <= WINDOW:
        return [0]
    starts = list(range(0, n - WINDOW + 1, WINDOW // 2))
    if starts[-1] + WINDOW < n:
        starts.append(n - WINDOW)
    return starts


def _windows_over(starts: list[int], live: list[tuple[int, int]]) -> list[int]:
    """The indexes (ascending) of the windows at ``starts`` (padded positions) that overlap a span of ``live``
    (text offsets: padded position = offset + 1).  Window ``j`` overlaps ``[a + 1, b + 1)`` iff
    ``a + 1 - WINDOW < starts[j] < b + 1``; spans whose such intervals meet are merged first (one search each)."""
    out: list[int] = []
    if not live:
        return out
    spans = sorted(live)
    ca, cb = spans[0]
    for a, b in spans[1:]:
        if a < cb + WINDOW:  # a + 1 - WINDOW < cb + 1: the two intervals of starts meet
            if b > cb:
                cb = b
        else:
            out.extend(range(bisect.bisect_right(starts, ca + 1 - WINDOW), bisect.bisect_left(starts, cb + 1)))
            ca, cb = a, b
    out.extend(range(bisect.bisect_right(starts, ca + 1 - WINDOW), bisect.bisect_left(starts, cb + 1)))
    return out


@dataclass
class Model:
    weights: np.ndarray  # float32 [2**BITS]
    rule_weights: np.ndarray  # float32 [len(RULE_FEATURES)]
    bias: float
    digest: str  # sha256 of the .npz bytes (shown in the model card and by --check)
    doc_weights: np.ndarray | None = None  # float32 [2**BITS]: the document model (None: not in this file)
    doc_bias: float = 0.0
    word_orders: tuple[int, ...] = ()  # the word n-grams the document model also reads (:func:`word_grams`)
    quotes: bool = False  # the document model also reads quotations on their own channel (:func:`quote_grams`)
    # logit = mix[0] * first + mix[1] * document + mix[3], plus mix[2] * the fixed priors
    mix: tuple[float, float, float, float] = (1.0, 0.0, 1.0, 0.0)

    def position_sums(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Per position of the padded text: the summed weights and the count of the n-grams that end there."""
        c = codes(" " + text + " ")
        s = self._sums(c, 0, len(c))
        k = np.arange(len(c) + 1)
        return s, np.diff(_count_prefix(k))

    def _sums(self, c: np.ndarray, lo: int, hi: int, base: int = 0, weights: np.ndarray | None = None) -> np.ndarray:
        """The summed weights of the n-grams ending at each position ``lo .. hi-1`` of the code array
        ``c``, which starts at position ``base`` of the padded text (``weights``: another weight vector)."""
        return self._sums_of(c, lo, hi, base, (self.weights if weights is None else weights,))[0]

    def _sums_of(
        self,
        c: np.ndarray,
        lo: int,
        hi: int,
        base: int,
        weights: tuple[np.ndarray, ...],
        words: int = -1,
        padded: str | None = None,
    ) -> list[np.ndarray]:
        """:meth:`_sums` for several weight vectors over one hashing pass; the vector at index ``words``
        (the document model's) also sums the word n-grams (:func:`word_grams`) ending at each position and,
        with :attr:`quotes`, the quoted channel of ``padded`` (the text ``c`` is the code array of)."""
        a = max(0, lo - (_K - 1))
        m = ngram_matrix(c[a:hi])
        out = []
        for i, wv in enumerate(weights):
            g = wv.take(m)
            for k, n in enumerate(ORDERS):  # n-grams that would start before the text
                g[k, : max(0, n - 1 - a - base)] = 0.0
            s = g.sum(axis=0, dtype=np.float64)
            if i == words and self.word_orders:
                pos, ids = word_grams(c[a:hi], self.word_orders)
                if len(pos):
                    s += np.bincount(pos, weights=wv.take(ids), minlength=len(s))
            if i == words and self.quotes and padded is not None:
                pos, ids = quote_grams(c, quote_spans(padded))
                keep = (pos >= a) & (pos < hi)
                if keep.any():
                    s += np.bincount(pos[keep] - a, weights=wv.take(ids[keep]), minlength=len(s))
            out.append(s[lo - a :])
        return out

    def ngram_logit(self, text: str, live: list[tuple[int, int]] | None = None) -> tuple[float, int, int]:
        """The maximum over windows of the n-gram part of the logit, and that window's span in ``text``.

        ``live``: spans of ``text``; only the windows that overlap one are scored (None: every window).
        With no window scored the result is ``(-inf, 0, 0)``."""
        if not text:
            return 0.0, 0, 0
        n = len(text) + 2
        starts = window_starts(n)
        if live is not None:  # text offsets: padded position = offset + 1
            keep = _windows_over(starts, live)
            if not keep:
                return float("-inf"), 0, 0
            if len(keep) * WINDOW < n:
                return self._some_windows(text, [starts[j] for j in keep], n)
        return self._best_window(self._sums(codes(" " + text + " "), 0, n), starts, len(text))

    @staticmethod
    def _best_window(s: np.ndarray, starts: list[int], length: int) -> tuple[float, int, int]:
        """The first model's best window of a whole text from its per-position sums ``s``."""
        n = length + 2
        st = np.asarray(starts)
        ends = np.minimum(st + WINDOW, n)
        cs = np.concatenate(([0.0], np.cumsum(s)))
        vals = (cs[ends] - cs[st]) / _norm(np.maximum(_count_prefix(ends) - _count_prefix(st), 1.0))
        k = int(np.argmax(vals))
        return float(vals[k]), max(0, starts[k] - 1), min(length, int(ends[k]) - 1)

    def logits(
        self, text: str, live: list[tuple[int, int]] | None = None
    ) -> tuple[tuple[float, int, int], tuple[float, int, int]]:
        """:meth:`ngram_logit` and :meth:`doc_logit` of ``text`` together; a text both models read whole
        (``live`` None, at most :data:`DOC_WHOLE` characters, no run to fold) is hashed once for both."""
        n = len(text) + 2
        if self.doc_weights is None or not text or live is not None or n > DOC_WHOLE or fold_runs(text) is not text:
            return self.ngram_logit(text, live), self.doc_logit(text, live)
        padded = " " + text + " "
        s1, s2 = self._sums_of(codes(padded), 0, n, 0, (self.weights, self.doc_weights), words=1, padded=padded)
        return self._best_window(s1, window_starts(n), len(text)), (self._doc_of(s2, n), 0, len(text))

    def _some_windows(self, text: str, starts: list[int], n: int) -> tuple[float, int, int]:
        """:meth:`ngram_logit` over the windows at ``starts`` only (sorted): the merged runs of windows,
        each with the ``max(ORDERS) - 1`` characters before it, are hashed as one array."""
        padded = " " + text + " "
        pieces: list[str] = []
        where: list[int] = []  # per window: its start in the joined array
        pos = i = 0
        while i < len(starts):
            j = i
            while j + 1 < len(starts) and starts[j + 1] < starts[j] + WINDOW:
                j += 1
            lo, hi = starts[i], min(starts[j] + WINDOW, n)
            a = max(0, lo - (_K - 1))  # the n-grams ending at lo .. hi-1 start no earlier than this
            pieces.append(padded[a:hi])
            where.extend(pos + st - a for st in starts[i : j + 1])
            pos += hi - a
            i = j + 1
        g = self.weights.take(ngram_matrix(codes("".join(pieces))))
        if starts[0] < _K - 1:  # the first run starts the text: no n-gram starts before it
            for k, o in enumerate(ORDERS):
                g[k, : o - 1] = 0.0
        cs = np.concatenate(([0.0], np.cumsum(g.sum(axis=0, dtype=np.float64))))
        if len(starts) < _VECTOR_WINDOWS:  # (numpy's calls cost more than a few windows one by one)
            best = (float("-inf"), 0, 0)
            for st_, w_ in zip(starts, where):
                end = min(st_ + WINDOW, n)
                v = float(cs[w_ + end - st_] - cs[w_]) / _norm(max(_count_prefix(end) - _count_prefix(st_), 1.0))
                if v > best[0]:
                    best = (v, max(0, st_ - 1), min(len(text), end - 1))
            return best
        st = np.asarray(starts)
        ends = np.minimum(st + WINDOW, n)
        w = np.asarray(where)
        vals = (cs[w + ends - st] - cs[w]) / _norm(np.maximum(_count_prefix(ends) - _count_prefix(st), 1.0))
        k = int(np.argmax(vals))  # (the first of equal maxima, as in text order: the same window as the loop)
        return float(vals[k]), max(0, starts[k] - 1), min(len(text), int(ends[k]) - 1)

    def doc_logit(self, text: str, live: list[tuple[int, int]] | None = None) -> tuple[float, int, int]:
        """The document model's logit of ``text`` (the maximum over its windows when it is longer than
        :data:`DOC_WHOLE`) and the span of ``text`` it read; ``live`` as in :meth:`ngram_logit` (no window
        read: ``(-inf, 0, 0)``).  Needs a model with a document part."""
        dw = self.doc_weights
        if dw is None or not text:
            return 0.0, 0, 0
        n = len(text) + 2
        if live is not None and n > DOC_WHOLE:
            return self._doc_around(text, live)
        folded = fold_runs(text)
        if folded is not text:  # (spans of a long text are then over the folded text: close enough)
            text, n = folded, len(folded) + 2
        if n <= DOC_WHOLE:
            starts, size = [0], n
        else:
            size, step = DOC_WINDOW, DOC_WINDOW // 2
            starts = list(range(0, n - size + 1, step))
            if starts[-1] + size < n:
                starts.append(n - size)
        if live is not None:
            starts = [st for st in starts if any(a + 1 < st + size and b + 1 > st for a, b in live)]
            if not starts:
                return float("-inf"), 0, 0
        if self.quotes and len(starts) > 1:  # each window's own quotations, as the trainer reads them
            vals_ = [self._doc_whole(text[max(0, st - 1) : st - 1 + size]) for st in starts]
            k = int(np.argmax(vals_))
            return vals_[k], max(0, starts[k] - 1), min(len(text), starts[k] - 1 + size)
        padded = " " + text + " "
        lo, hi = starts[0], min(starts[-1] + size, n)
        s = self._sums_of(codes(padded), lo, hi, 0, (dw,), words=0, padded=padded)[0]  # positions lo .. hi-1
        st = np.asarray(starts)
        ends = np.minimum(st + size, n)
        vals = _doc_windows(np.concatenate(([0.0], np.cumsum(s))), st, ends, lo)
        k = int(np.argmax(vals))
        return float(vals[k]) + self.doc_bias, max(0, starts[k] - 1), min(len(text), int(ends[k]) - 1)

    def doc_sweep(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The document model's logit of every window of :data:`WINDOW` characters of ``text`` (every
        ``WINDOW // 2``, one flush with the end), from one hashing pass: ``(logits, starts, ends)``, the spans
        as offsets of ``text`` (runs folded first, as the model reads them: spans over the folded text then).
        Each window's sum is of the n-grams that end in it, over the square root of their count, as a window
        read on its own (the n-grams that reach back over its start are counted too)."""
        dw = self.doc_weights
        assert dw is not None
        text = fold_runs(text)
        n = len(text) + 2
        padded = " " + text + " "
        s = self._sums_of(codes(padded), 0, n, 0, (dw,), words=0, padded=padded)[0]
        st = np.asarray(window_starts(n))
        ends = np.minimum(st + WINDOW, n)
        vals = _doc_windows(np.concatenate(([0.0], np.cumsum(s))), st, ends) + self.doc_bias
        return vals, np.maximum(st - 1, 0), np.minimum(ends - 1, len(text))

    def _doc_around(self, text: str, live: list[tuple[int, int]]) -> tuple[float, int, int]:
        """The document model on the places a rule pointed at in a long text: each span of ``live`` with
        :data:`DOC_CONTEXT` characters either side (overlapping ones merged, at most :data:`DOC_WINDOW`
        characters each, at most :data:`DOC_MAX_PLACES` places), each read as a short text of its own --
        an instruction slipped into a long prompt is judged with its sentence, not diluted by the rest."""
        places = doc_places(text, live)
        best = (float("-inf"), 0, 0)
        for (lo, hi), v in zip(places, self._doc_pieces(fold_runs_of(text, places), folded=True)):
            if v > best[0]:
                best = (v, lo, hi)
        return best

    def _doc_pieces(self, texts: list[str], folded: bool = False) -> list[float]:
        """:meth:`_doc_whole` of each of ``texts``, hashed in one pass: the padded pieces joined, the n-grams
        that would start in the piece before masked, each piece's sum taken over its own positions (the same
        numbers, in the same order, as one piece at a time); ``folded``: ``texts`` are :func:`fold_runs`'s
        already (``fold_runs`` leaves its own output as it is)."""
        assert self.doc_weights is not None
        if self.word_orders or len(texts) < 2:  # (word pairs would cross the joins)
            return [self._doc_whole(t) for t in texts]
        padded = [" " + (t if folded else fold_runs(t)) + " " for t in texts]
        c = codes("".join(padded))
        g = self.doc_weights.take(ngram_matrix(c))
        offsets = []
        quoted: list[tuple[int, int]] = []
        o = 0
        for p in padded:
            offsets.append(o)
            if self.quotes:
                quoted.extend((o + qa, o + qb) for qa, qb in quote_spans(p))  # each piece's own quotations
            o += len(p)
        # the n-grams that would start in the piece before (n - 1 per piece and order n), zeroed in one pass
        width = g.shape[1]
        at = np.asarray(offsets)[:, None] + _HEAD_POS
        g.ravel()[(at + _HEAD_ROW * width)[at < width]] = 0.0
        s = g.sum(axis=0, dtype=np.float64)
        if quoted:
            pos, ids = quote_grams(c, quoted)
            s += np.bincount(pos, weights=self.doc_weights.take(ids), minlength=len(s))
        # (_doc_of, inline: the same operations in the same order; ``np.add.reduce`` is what ``ndarray.sum`` calls)
        bias, add = self.doc_bias, np.add.reduce
        return [
            float(add(s[o : o + len(p)])) / math.sqrt(max(_count_prefix(len(p)), 1.0)) + bias
            for o, p in zip(offsets, padded)
        ]

    def _doc_whole(self, text: str) -> float:
        """The document model's logit of ``text`` read whole."""
        assert self.doc_weights is not None
        padded = " " + fold_runs(text) + " "
        n = len(padded)
        return self._doc_of(self._sums_of(codes(padded), 0, n, 0, (self.doc_weights,), words=0, padded=padded)[0], n)

    def _doc_of(self, s: np.ndarray, n: int) -> float:
        """The document model's logit of a whole padded text of length ``n`` from its per-position sums."""
        return float(s.sum()) / float(np.sqrt(max(_count_prefix(n), 1.0))) + self.doc_bias


def _doc_windows(cs: np.ndarray, st: np.ndarray, ends: np.ndarray, lo: int = 0) -> np.ndarray:
    """The document model's windows ``[st, ends)`` of a padded text from the cumulative per-position sums ``cs``
    (``cs[0]`` = 0, starting at position ``lo``): each sum over the square root of its n-gram count (no bias)."""
    return (cs[ends - lo] - cs[st - lo]) / np.sqrt(np.maximum(_count_prefix(ends) - _count_prefix(st), 1.0))


def doc_places(text: str, live: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The places of a long ``text`` the document model reads around the spans ``live`` (see
    :meth:`Model._doc_around`): each span with :data:`DOC_CONTEXT` characters either side, overlapping ones
    merged, at most :data:`DOC_MAX_PLACES`, each cut into half-overlapping pieces of :data:`DOC_WINDOW`."""
    n = len(text)
    merged: list[list[int]] = []
    for a, b in sorted(live):  # (widening keeps the order of the starts: the merged places are the same)
        a = a - DOC_CONTEXT if a > DOC_CONTEXT else 0
        b = b + DOC_CONTEXT if b + DOC_CONTEXT < n else n
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1][1] = b
        else:
            if len(merged) > DOC_MAX_PLACES:
                break  # (a later span starts past this place: only the first DOC_MAX_PLACES are read)
            merged.append([a, b])
    return [
        (lo, min(b, lo + DOC_WINDOW))
        for a, b in merged[:DOC_MAX_PLACES]
        for lo in range(a, max(a + 1, b - DOC_WINDOW + DOC_WINDOW // 2), DOC_WINDOW // 2)
    ]


def doc_features_row(
    text: str, word_orders: tuple[int, ...] = (), quotes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Training form of one (window of) text for the document model: bucket ids (the character n-grams',
    then the words', :func:`word_grams`, then the quoted channel's, :func:`quote_grams`), each valued
    1/sqrt(count of the character n-grams)."""
    ids = ngram_ids(text)
    allids = np.concatenate([a for _, a in ids]) if ids else np.zeros(0, dtype=np.intp)
    count = len(allids)
    if word_orders:
        allids = np.concatenate((allids, word_grams(codes(" " + text + " "), word_orders)[1]))
    if quotes:
        padded = " " + text + " "
        allids = np.concatenate((allids, quote_grams(codes(padded), quote_spans(padded))[1]))
    return allids, np.full(len(allids), 1.0 / np.sqrt(max(1, count)))


def doc_windows(text: str) -> list[str]:
    """The pieces of a (normalised) text the document model reads: the text, or its windows (runs folded)."""
    text = fold_runs(text)
    n = len(text) + 2
    if n <= DOC_WHOLE:
        return [text]
    step = DOC_WINDOW // 2
    starts = list(range(0, n - DOC_WINDOW + 1, step))
    if starts[-1] + DOC_WINDOW < n:
        starts.append(n - DOC_WINDOW)
    # a window of the padded text starts at text offset st - 1 and ends DOC_WINDOW later (the pads excluded)
    return [text[max(0, st - 1) : st - 1 + DOC_WINDOW] for st in starts]


def features_matrix_row(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Training form of one (window of) text: bucket ids and values (1/count: the mean), duplicates kept."""
    ids = ngram_ids(text)
    allids = np.concatenate([a for _, a in ids]) if ids else np.zeros(0, dtype=np.intp)
    if len(allids) == 0:
        return allids, np.zeros(0)
    return allids, np.full(len(allids), 1.0 / float(_norm(np.float64(len(allids)))))


_lock = threading.Lock()
_model: Model | None = None


def load(path: str | None = None) -> Model:
    """The shipped model (loaded once); ``path`` loads another file (training and tests)."""
    global _model
    if path is None and _model is not None:
        return _model
    p = path or MODEL_PATH
    with open(p, "rb") as f:
        raw = f.read()
    import io

    z = np.load(io.BytesIO(raw))
    m = Model(
        z["weights"].astype(np.float32),
        z["rule_weights"].astype(np.float32),
        float(z["bias"][0]),
        hashlib.sha256(raw).hexdigest(),
    )
    if "doc_weights" in z.files:
        m.doc_weights = z["doc_weights"].astype(np.float32)
        m.doc_bias = float(z["doc_bias"][0])
        mix = z["mix"].astype(np.float64)
        m.mix = (float(mix[0]), float(mix[1]), float(mix[2]), float(mix[3]))
        if "word_orders" in z.files:
            m.word_orders = tuple(int(x) for x in z["word_orders"])
        m.quotes = "quotes" in z.files and bool(z["quotes"][0])
    if (
        int(z["bits"][0]) != BITS
        or len(m.rule_weights) != len(RULE_FEATURES)
        or not set(m.word_orders) <= set(_WORD_SALT)
    ):
        raise ValueError(f"{p}: the model does not match this version of the featuriser")
    if m.word_orders:
        _word_chars()  # (built now, not on the first request)
    if path is None:
        with _lock:
            _model = m
    return m
