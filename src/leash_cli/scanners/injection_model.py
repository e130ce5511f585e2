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

import hashlib
import os
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["BITS", "ORDERS", "WINDOW", "Model", "load", "ngram_ids", "MODEL_PATH", "RULE_FEATURES"]

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


def codes(text: str) -> np.ndarray:
    """Code points of ``text`` as uint32, whitespace folded to a space and digits to ``0``."""
    c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    c[(c == 9) | (c == 10) | (c == 13) | (c == 12) | (c == 11)] = 32
    c[(c >= 48) & (c <= 57)] = 48
    return c


def ngram_ids(text: str) -> list[tuple[int, np.ndarray]]:
    """For each order n: the bucket of the n-gram ending at every position ``i >= n - 1`` of
    `` text `` (padded with one space each side), as int64 arrays; array ``n`` has ``len - n + 1``
    entries."""
    c = codes(" " + text + " ")
    out = []
    h = np.zeros(len(c), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for n in range(1, max(ORDERS) + 1):
            if n == 1:
                h = c.copy()
            else:
                if len(h) <= 1:
                    break
                h = h[:-1] * _P + c[n - 1 :]
            if n in ORDERS:
                out.append((n, (((h ^ _ORDER_SALT[n]) * _MIX) >> _SHIFT).astype(np.intp)))
    return out


@dataclass
class Model:
    weights: np.ndarray  # float32 [2**BITS]
    rule_weights: np.ndarray  # float32 [len(RULE_FEATURES)]
    bias: float
    digest: str  # sha256 of the .npz bytes (shown in the model card and by --check)

    def position_sums(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Per position of the padded text: the summed weights and the count of the n-grams that end there."""
        ids = ngram_ids(text)
        n = len(text) + 2
        s = np.zeros(n, dtype=np.float64)
        cnt = np.zeros(n, dtype=np.float64)
        w = self.weights
        for order, arr in ids:
            s[order - 1 :] += np.take(w, arr)
            cnt[order - 1 :] += 1.0
        return s, cnt

    def ngram_logit(self, text: str) -> tuple[float, int, int]:
        """The maximum over windows of the n-gram part of the logit, and that window's span in ``text``."""
        if not text:
            return 0.0, 0, 0
        s, cnt = self.position_sums(text)
        n = len(s)
        cs = np.concatenate(([0.0], np.cumsum(s)))
        cc = np.concatenate(([0.0], np.cumsum(cnt)))
        if n <= WINDOW:
            starts = np.array([0])
            ends = np.array([n])
        else:
            starts = np.arange(0, n - WINDOW + 1, WINDOW // 2)
            if starts[-1] + WINDOW < n:
                starts = np.append(starts, n - WINDOW)
            ends = starts + WINDOW
        tot = cs[ends] - cs[starts]
        num = np.maximum(cc[ends] - cc[starts], 1.0)
        vals = tot / _norm(num)
        k = int(np.argmax(vals))
        a = max(0, int(starts[k]) - 1)
        b = min(len(text), int(ends[k]) - 1)
        return float(vals[k]), a, b


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
