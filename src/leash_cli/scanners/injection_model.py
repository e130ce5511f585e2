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

The weights (``injection_model.npz``, float16, ~0.5 MB) are built by ``scripts/train_injection.py``
from the pinned public sources of ``data/injection/SOURCES.md``; nothing is downloaded at run time.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["BITS", "ORDERS", "WINDOW", "Model", "load", "ngram_ids", "ngram_matrix", "MODEL_PATH", "RULE_FEATURES"]

BITS = 18
ORDERS = (1, 2, 3, 4, 5)
WINDOW = 256
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
    return count**NORM_POWER


_K = max(ORDERS)
_ROWS = np.array([n in ORDERS for n in range(1, _K + 1)])
_SALTS = np.array([_ORDER_SALT[n] for n in range(1, _K + 1)], dtype=np.uint32)[:, None]
# code points below 128 through one table: whitespace -> space, digits -> "0"
_LUT = np.arange(128, dtype=np.uint32)
_LUT[[9, 10, 11, 12, 13]] = 32
_LUT[48:58] = 48


_ASCII_FOLD = bytes.maketrans(b"\t\n\x0b\x0c\r0123456789", b"     0000000000")


def codes(text: str) -> np.ndarray:
    """Code points of ``text`` as uint32, whitespace folded to a space and digits to ``0``."""
    if text.isascii():  # one C pass over the bytes
        return np.frombuffer(text.encode("ascii").translate(_ASCII_FOLD), dtype=np.uint8).astype(np.uint32)
    c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.where(c < 128, _LUT[np.minimum(c, 127)], c)


def ngram_matrix(c: np.ndarray) -> np.ndarray:
    """The bucket of the n-gram of every order ending at every position of the code array ``c``: an
    int64 array ``[len(ORDERS), len(c)]``; row ``k`` (order ``n``) is meaningless at positions
    ``< n - 1`` (the caller masks them).  One hashing pass per order over the whole array
    (``h_n[i] = h_{n-1}[i-1] * P + c[i]``), then one salt / mix / shift over the matrix."""
    n = len(c)
    h = np.empty((_K, n), dtype=np.uint32)
    h[0] = c
    with np.errstate(over="ignore"):
        for k in range(1, _K):
            np.multiply(h[k - 1, :-1], _P, out=h[k, 1:])
            h[k, 1:] += c[1:]
            h[k, 0] = 0
        h ^= _SALTS
        h *= _MIX
        h >>= _SHIFT
    if not _ROWS.all():
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
    out = np.zeros(len(k), dtype=np.float64)
    for n in ORDERS:
        out += np.maximum(k - (n - 1), 0)
    return out


def window_starts(n: int) -> list[int]:
    """Where the windows of a padded text of ``n`` characters start: every ``WINDOW // 2``, and one
    flush with the end."""
    if n <= WINDOW:
        return [0]
    starts = list(range(0, n - WINDOW + 1, WINDOW // 2))
    if starts[-1] + WINDOW < n:
        starts.append(n - WINDOW)
    return starts


@dataclass
class Model:
    weights: np.ndarray  # float32 [2**BITS]
    rule_weights: np.ndarray  # float32 [len(RULE_FEATURES)]
    bias: float
    digest: str  # sha256 of the .npz bytes (shown in the model card and by --check)

    def position_sums(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Per position of the padded text: the summed weights and the count of the n-grams that end there."""
        c = codes(" " + text + " ")
        s = self._sums(c, 0, len(c))
        k = np.arange(len(c) + 1)
        return s, np.diff(_count_prefix(k))

    def _sums(self, c: np.ndarray, lo: int, hi: int, base: int = 0) -> np.ndarray:
        """The summed weights of the n-grams ending at each position ``lo .. hi-1`` of the code array
        ``c``, which starts at position ``base`` of the padded text."""
        a = max(0, lo - (_K - 1))
        g = self.weights.take(ngram_matrix(c[a:hi]))
        for k, n in enumerate(ORDERS):  # n-grams that would start before the text
            g[k, : max(0, n - 1 - a - base)] = 0.0
        return g.sum(axis=0, dtype=np.float64)[lo - a :]

    def ngram_logit(self, text: str, live: list[tuple[int, int]] | None = None) -> tuple[float, int, int]:
        """The maximum over windows of the n-gram part of the logit, and that window's span in ``text``.

        ``live``: spans of ``text``; only the windows that overlap one are scored (None: every window).
        With no window scored the result is ``(-inf, 0, 0)``."""
        if not text:
            return 0.0, 0, 0
        n = len(text) + 2
        starts = window_starts(n)
        if live is not None:  # text offsets: padded position = offset + 1
            keep: set[int] = set()
            for a, b in live:  # window j overlaps [a + 1, b + 1) iff starts[j] < b + 1 < starts[j] + WINDOW + ...
                keep.update(range(bisect.bisect_right(starts, a + 1 - WINDOW), bisect.bisect_left(starts, b + 1)))
            if not keep:
                return float("-inf"), 0, 0
            if len(keep) * WINDOW < n:
                return self._some_windows(text, [starts[j] for j in sorted(keep)], n)
        st = np.asarray(starts)
        ends = np.minimum(st + WINDOW, n)
        s = self._sums(codes(" " + text + " "), 0, n)
        cs = np.concatenate(([0.0], np.cumsum(s)))
        vals = (cs[ends] - cs[st]) / _norm(np.maximum(_count_prefix(ends) - _count_prefix(st), 1.0))
        k = int(np.argmax(vals))
        return float(vals[k]), max(0, starts[k] - 1), min(len(text), int(ends[k]) - 1)

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
        best = (float("-inf"), 0, 0)
        for st, w in zip(starts, where):
            end = min(st + WINDOW, n)
            v = float(cs[w + end - st] - cs[w]) / _norm(max(_count_prefix(end) - _count_prefix(st), 1.0))
            if v > best[0]:
                best = (v, max(0, st - 1), min(len(text), end - 1))
        return best


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
    if int(z["bits"][0]) != BITS or len(m.rule_weights) != len(RULE_FEATURES):
        raise ValueError(f"{p}: the model does not match this version of the featuriser")
    if path is None:
        with _lock:
            _model = m
    return m
