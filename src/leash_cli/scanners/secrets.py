"""Secret / credential detection: prefix-keyed patterns + validity checks.

Types: ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``GITHUB_TOKEN``, ``GITLAB_TOKEN``,
``SLACK_TOKEN``, ``SLACK_WEBHOOK``, ``STRIPE_KEY``, ``GOOGLE_API_KEY``,
``HUGGINGFACE_TOKEN``, ``SENDGRID_API_KEY``, ``JWT``, ``PRIVATE_KEY``,
``URL_PASSWORD`` (+ custom patterns).

All prefix-keyed token types are matched by ONE combined alternation (the
regex engine skips positions whose first character cannot start a token).
``AWS_SECRET_ACCESS_KEY`` (no prefix) is only searched when the text
mentions aws/secret or contains an access key id, and each candidate needs
such context within 160 characters before it: ``export AWS_SECRET_ACCESS_KEY=...``,
``aws_secret_access_key = ...`` (``~/.aws/credentials``), env files, YAML, JSON
(``"SecretAccessKey": ...``), CLI flags, URL queries (``/`` and ``+`` may be
%-encoded) and log lines.  Hex digests (one case only), UUIDs and other
lengths are not keys.  ``URL_PASSWORD`` only runs
when ``://`` and ``@`` are present; its span is the password only, so a
redacted URL stays readable (``postgres://app:[URL_PASSWORD]@db``).

Placeholders are NOT secrets: ``sk-...``, ``sk-xxxx``, ``YOUR_API_KEY``,
``<api-key>``, ``${VAR}``, ``$OPENAI_API_KEY``, ``sk-proj-XXXXXXXX``,
repeated or sequential characters, values containing example / dummy /
sample / fake / placeholder / your / redacted / changeme, and low-entropy
bodies.  Documentation examples are treated as placeholders too:

* AWS's documented example access key id and secret (both end in ``EXAMPLE`` /
  ``EXAMPLEKEY``; anything containing ``EXAMPLE``) are NOT reported;
* the jwt.io sample token (signature ``SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c``)
  is NOT reported;
* Slack's documented ``T00000000/B00000000/XXXXXXXX...`` webhook is NOT
  reported.

Stripe *test* keys (``sk_test_``) are still reported (score 0.75): they
grant API access to a real account's test mode.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

from . import gates, overlap
from .custom import compile_custom, select_types
from .engine import Finding
from .normalize import Composed, Normalized, has_escapes, normalize, unescaped, without_surrogates

__all__ = ["SecretsScanner", "SECRET_TYPES", "shannon_entropy", "is_placeholder"]

SCANNER = "secrets-detector"
SECRET_TYPES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "SLACK_TOKEN",
    "SLACK_WEBHOOK",
    "STRIPE_KEY",
    "GOOGLE_API_KEY",
    "HUGGINGFACE_TOKEN",
    "SENDGRID_API_KEY",
    "JWT",
    "PRIVATE_KEY",
    "URL_PASSWORD",
)

_TOK = r"(?![A-Za-z0-9_\-])"  # end-of-token guard

# (type, regex, body-prefix-length-regex, base score)
_SPECS: list[tuple[str, str, float]] = [
    ("ANTHROPIC_API_KEY", r"sk-ant-(?:api|admin|oat|ort|sid)\d{2}-[A-Za-z0-9_\-]{20,400}" + _TOK, 0.95),
    (
        "OPENAI_API_KEY",
        r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,400}" + _TOK + r"|[A-Za-z0-9]{48}(?![A-Za-z0-9_\-])"
        # (a legacy key's marker, "OpenAI" in base64, with a few characters more or fewer on either side of it; not cut
        # short before a redaction's mark, "…", "...", "*", "[REDACTED]")
        r"|[A-Za-z0-9]{16,32}T3BlbkFJ[A-Za-z0-9]{16,32}(?![A-Za-z0-9_\-*\[…]|\.\.))",
        0.9,
    ),
    ("AWS_ACCESS_KEY_ID", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])", 0.9),
    ("GITHUB_TOKEN", r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])", 0.95),
    (  # (GR1348941: a runner registration token)
        "GITLAB_TOKEN",
        # (a routable token ends in a version and a check: "glpat-….01.hi3f4clhi")
        r"(?:gl(?:pat|dt|ptt|rt|ft|imt|cbt|soat|oas|agent)-|GR1348941)[A-Za-z0-9_\-]{20,64}(?:\.[0-9]{2}\.[a-z0-9]{7,12})?"
        + _TOK,
        0.95,
    ),
    ("SLACK_TOKEN", r"(?:xox[abposr]-|xoxe(?:\.xox[bp])?-\d-|xapp-\d-)[A-Za-z0-9\-]{10,250}" + _TOK, 0.9),
    (
        "SLACK_WEBHOOK",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,200}" + r"(?![A-Za-z0-9_/\-])",
        0.95,
    ),
    ("STRIPE_KEY", r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,250}|whsec_[A-Za-z0-9]{24,128})(?![A-Za-z0-9_])", 0.9),
    ("GOOGLE_API_KEY", r"AIza[0-9A-Za-z_\-]{35}" + _TOK, 0.9),
    ("HUGGINGFACE_TOKEN", r"hf_[A-Za-z0-9]{34,64}(?![A-Za-z0-9_])", 0.9),
    ("SENDGRID_API_KEY", r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}" + _TOK, 0.95),
    ("JWT", r"eyJ[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{2,8192}\.[A-Za-z0-9_\-]{0,4096}" + _TOK, 0.85),
    ("PRIVATE_KEY", r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----", 0.99),
]
_GROUP_TYPE = {f"g{i}": spec[0] for i, spec in enumerate(_SPECS)}
_BASE_SCORE = {spec[0]: spec[2] for spec in _SPECS}
_COMBINED = re.compile("|".join(f"(?P<g{i}>{spec[1]})" for i, spec in enumerate(_SPECS)))
# literal prefixes of every combined token type: a literal alternation lets
# the regex engine skip quickly to candidate positions; the full combined
# pattern is then only tried (anchored) at those positions.
_PREFIX = re.compile(
    r"sk-|sk_|rk_|whsec_|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|gl(?:pat|dt|ptt|rt|ft|imt|cbt|soat|oas|agent)-|GR1348941|"
    r"xox|xapp-|https://hooks\.slack\.com/|AIza|hf_|SG\.|eyJ|-----BEGIN"
)
_MAX_ANCHORED = 4096  # beyond this many prefix hits, fall back to one finditer pass

# The same prefixes as literals, for a multi-pattern search in Rust (Aho-Corasick):
# ~6x faster than the regex alternation above on a 4 KB prompt.
_PREFIX_LITERALS = (
    "sk-",
    "sk_",
    "rk_",
    "whsec_",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    *(f"gh{c}_" for c in "pousr"),
    "github_pat_",
    *(f"gl{k}-" for k in ("pat", "dt", "ptt", "rt", "ft", "imt", "cbt", "soat", "oas", "agent")),
    "GR1348941",
    "xox",
    "xapp-",
    "https://hooks.slack.com/",
    "AIza",
    "hf_",
    "SG.",
    "eyJ",
    "-----BEGIN",
)
# Words that make a 40-character run worth checking as an AWS secret key (any of them, anywhere).
_AWS_CTX_ANY = ("aws", "AWS", "Aws", "secret", "Secret", "SECRET")
_N_PREFIX = len(_PREFIX_LITERALS)
try:
    from ahocorasick_rs import AhoCorasick as _AhoCorasick
    from ahocorasick_rs import BytesAhoCorasick as _BytesAhoCorasick
    from ahocorasick_rs import Implementation as _ACImpl
    from ahocorasick_rs import MatchKind as _ACMatchKind

    # one pass finds the token prefixes and the AWS context words together (DFAs: the fastest search)
    _PREFIX_AC: _AhoCorasick | None = _AhoCorasick([*_PREFIX_LITERALS, *_AWS_CTX_ANY], implementation=_ACImpl.DFA)
    _PREFIX_AC_BYTES: _BytesAhoCorasick | None = _BytesAhoCorasick(
        [w.encode() for w in (*_PREFIX_LITERALS, *_AWS_CTX_ANY)], implementation=_ACImpl.DFA
    )
    # Whether any of them occurs at all: a leftmost-first search may skip ahead with a
    # prefilter (rare bytes, SIMD), which the overlapping search cannot: 0.7 against 6.6 µs
    # on a 4 KB prompt.  It finds a match exactly when the overlapping search finds one.
    _ANY_AC: _AhoCorasick | None = _AhoCorasick(
        [*_PREFIX_LITERALS, *_AWS_CTX_ANY], matchkind=_ACMatchKind.LeftmostFirst
    )
    _ANY_AC_BYTES: _BytesAhoCorasick | None = _BytesAhoCorasick(
        [w.encode() for w in (*_PREFIX_LITERALS, *_AWS_CTX_ANY)], matchkind=_ACMatchKind.LeftmostFirst
    )
except ImportError:  # pragma: no cover - the dependency is declared; keep working without it
    _PREFIX_AC = _PREFIX_AC_BYTES = _ANY_AC = _ANY_AC_BYTES = None


def _literal_hits(t: str) -> tuple[list[int], bool]:
    """Start offsets of every prefix occurrence, ascending (what ``_PREFIX`` finds, all of
    them), and whether an AWS context word occurs."""
    if _PREFIX_AC is None:
        starts, pos = [], 0
        while (p := _PREFIX.search(t, pos)) is not None:
            starts.append(p.start())
            pos = p.start() + 1
        return starts, any(w in t for w in _AWS_CTX_ANY)
    try:  # Latin-1 text: bytes offsets are character offsets, and the bytes search is faster
        b = t.encode("latin-1")
    except UnicodeEncodeError:
        assert _ANY_AC is not None  # built together with _PREFIX_AC
        if not _ANY_AC.find_matches_as_indexes(t):
            return [], False
        hits = _PREFIX_AC.find_matches_as_indexes(t, overlapping=True)
    else:
        assert _ANY_AC_BYTES is not None and _PREFIX_AC_BYTES is not None  # built together with _PREFIX_AC
        if not _ANY_AC_BYTES.find_matches_as_indexes(b):  # the usual text: none of them
            return [], False
        hits = _PREFIX_AC_BYTES.find_matches_as_indexes(b, overlapping=True)
    n = _N_PREFIX
    return sorted({s for i, s, _ in hits if i < n}), any(i >= n for i, _, _ in hits)


def _prefix_starts(t: str) -> list[int]:
    return _literal_hits(t)[0]


def _combined_matches(t: str, starts: list[int]):
    pos = 0
    hits = 0
    match = _COMBINED.match
    for start in starts:
        if start < pos:
            continue
        hits += 1
        if hits > _MAX_ANCHORED:
            yield from _COMBINED.finditer(t, start)
            return
        m = match(t, start)
        if m is not None:
            yield m
            pos = m.end()


# first characters that can start a combined token (cheap prefilter)
_BOUNDARY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

# body (random part) of each token, used for placeholder / entropy checks
_BODY_PREFIX = re.compile(
    r"^(?:sk-ant-[a-z]+\d{2}-|sk-(?:proj|svcacct|admin|None)-|sk-|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|"
    r"gl[a-z]+-|GR1348941|xox[a-z]-|xoxe(?:\.xox[bp])?-\d-|xapp-\d-|(?:sk|rk)_(?:live|test)_|whsec_|AIza|hf_|SG\.|"
    r"https://hooks\.slack\.com/[a-z]+/)"
)

# 40 base64 characters ("/" and "+" may come URL-encoded); "=" may precede (NAME=value), not follow
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+%])(?:[A-Za-z0-9/+]|%2[FfBb]){40}(?![A-Za-z0-9/+=%])")
_AWS_CTX_STRONG = re.compile(
    r"(?:aws_?secret|secret_?access_?key|secretaccesskey|aws.{0,20}secret|secret.{0,20}aws|"
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})",
    re.IGNORECASE | re.DOTALL,
)
_AWS_CTX_WEAK = re.compile(r"\baws\b|secret", re.IGNORECASE)
_AWS_CTX_SPAN = 160  # how far before a key its context may stand
_AWS_ID_PREFIXES = ("akia", "asia", "abia", "acca")
_DIGIT = re.compile(r"[0-9]")
# the secret key's own name just before it: ``AWS_SECRET_ACCESS_KEY: …``, ``aws_secret_access_key = …``, ``"SecretAccessKey": "…``
_AWS_SYMBOL_BEFORE = re.compile(
    r"(?:secret_?access_?key|secretaccesskey)[\"']?\s{0,3}[:=]\s{0,3}[\"']?$", re.IGNORECASE
)

_URL_PW = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,19}://"
    r"([^\s:/?#@\"'<>\[\]]{0,128}):((?:[^\s/@\"'<>]|(?<=[A-Za-z0-9])'(?=[A-Za-z0-9])){1,256}"
    r"(?:@[^\s/@\"'<>?#,:.]{1,64}){0,3})@(?=[A-Za-z0-9\[]|\$[A-Za-z{]|\{\{)"
)  # (no user: redis://:pw@host; an "@" left unencoded in the password, the host after the last: "pg://u:Gr@nts!x7@db",
# a part after an "@" that holds no host's dot nor a query's, a port's or a list's mark: "…:pw@api.x.io?to=a@b.io"; a
# host that is a template's variable: Nagios's "$HOSTADDRESS$", "${DB_HOST}", "{{ host }}")
_URL_PW_PLACEHOLDERS = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "pwd",
        "pw",
        "secret",
        "changeme",
        "cambiame",  # (Spanish: "change me")
        "cámbiame",
        "mypassword",
        "yourpassword",
        "your_password",
        "your-password",
        "p@ssw0rd",
        "pass123",
        "password123",
        "xxx",
        "xxxx",
        "****",
        "...",
        "token",
        "apikey",
        "api_key",
        "user",
        "username",
        "redacted",
        "hidden",
        "example",
        "foo",
        "bar",
        "baz",
        "s3cret",
        "hunter2",
        "guest",  # (RabbitMQ's default guest:guest, on localhost only)
        # ("password" in other languages: a format description, "mysql://benutzer:passwort@host")
        "passwort",
        "kennwort",
        "motdepasse",
        "mot_de_passe",
        "contraseña",
        "contrasena",
        "senha",
        "wachtwoord",
        "hasło",
        "haslo",
        "parola",
        "lösenord",
        "salasana",
        "heslo",
        "jelszó",
        "пароль",
        # (in scripts of their own: Bengali, Hindi, Chinese, Japanese, Korean, Thai, Arabic, Persian, Hebrew, Greek)
        "পাসওয়ার্ড",
        "पासवर्ड",
        "密码",
        "密碼",
        "パスワード",
        "비밀번호",
        "รหัสผ่าน",
        "كلمةالمرور",
        "كلمة_المرور",
        "رمزعبور",
        "رمز_عبور",
        "סיסמה",
        "κωδικός",
        "şifre",
        "parol",
    }
)

_PEM_END = re.compile(r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"(?:(?:Proc-Type|DEK-Info|Comment):[^\n]{0,200}\n){0,4}[A-Za-z0-9+/=\s\\]{0,8192}")
_B64_CHARS = re.compile(r"[A-Za-z0-9+/]{16,}")

_PLACEHOLDER_WORDS = (
    "example",
    "dummy",
    "placeholder",
    "your",
    "redacted",
    "sample",
    "fake",
    "changeme",
    "xxxx",
    "****",
    "...",
    "\u2026",
    "<",
    ">",
    "${",
    "{{",
    "insert",
    "replace",
    "here",
    "12345678",
    "0123456",
    "my_key",
    "mykey",
    "secret_key",
    "api_key",
    "apikey",
    "token_here",
    "notreal",
    "invalid",
    # (and "insert your key here" in the other languages: "sk-proj-INSERISCI_LA_TUA_CHIAVE", "TU_CLAVE_AQUI")
    "inserisci",
    "la_tua",
    "tua_chiave",
    "tu_clave",
    "inserta",
    "votre_cle",
    "remplace",
    "reemplaz",  # (Spanish and Portuguese: "sk_live_REEMPLAZAR", "SustituyeEsto", "SUBSTITUIR")
    "sustitu",
    "substitu",
    "einfuegen",
    "einfügen",
    "ersetzen",
    "dein_",
    "sua_chave",
    "inserir",
    "jouw_",
    "vervang",
    "twoj_",
    "wstaw",
)
# the alphabet typed as a placeholder, in one case or capitalised ("aBcDeFgH" is a made-up key's own letters)
_ALPHABET = ("abcdefgh", "ABCDEFGH", "Abcdefgh")
# a password that starts with "$": random letters of both cases and digits, no variable's name ("$hsaOzAnUNBSa9KVz…")
_DOLLAR_PASSWORD = re.compile(r"\$(?=[^_]*[a-z])(?=[^_]*[A-Z])(?=[^_]*[0-9])[A-Za-z0-9!#%&*+\-.=?^~]{11,}")
# ...and no variable's words ("$AdminPassword1", "$DbPassword2024", "$MongoSvcPass2" in PowerShell or PHP)
_VARIABLE_WORDS = re.compile(r"pass|pwd|user|admin|secret|token|key|mongo|mysql|postgres|redis|deploy|svc|db")
# a constant's name, as a template writes a password it fills in ("__MONGO_PASSWORD__", "REPLACE_WITH_DB_PASSWORD")
_CONST_NAME = re.compile(r"_*[A-Z][A-Z0-9]*(?:_+[A-Z0-9]+)+_*")
# (and Symfony's "%env(DB_PASSWORD)%"; of the encoded characters only what starts a placeholder: "%3Cpassword%3E",
# "%7BDB_PASS%7D", "%2A%2A…", "%24VAR" -- "%23Kx9vLq…" and "%aBNT0k…" are passwords)
_PERCENT_PLACEHOLDER = re.compile(r"%(?:\(\w*\)s|s$|\{\w*\}|[\w():]+%|3[Cc]|7[Bb]|2[Aa]%2[Aa]|24|25)")
_SLACK_MIN = 24  # letters and digits after a Slack token's prefix
_JWT_EXAMPLE_SIGS = frozenset({"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"})
_SIG_WORD = re.compile(r"(?i)sig(?:nature)?|signed|[a-z]*_?signature|x{3,}")  # (a word where a JWT's signature goes)
_SAMPLE_CLAIMS = re.compile(r"(?i)example|sample|john doe|jane doe|1234567890|placeholder|dummy")
# (published in Stripe's API reference, in every curl example: a shared sandbox key, no one's secret)
_STRIPE_DOC_KEYS = frozenset({"sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_BQokikJOvBiI2HlWgH4olfQ2"})


def _rank(r: tuple) -> tuple:
    return (-r[3], -(r[2] - r[1]))


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _placeholder_word(body: str, low: str, w: str) -> bool:
    """Whether the short letters-only word ``w`` (four letters or fewer: "your", "fake", "here", "xxxx") stands in
    ``body`` as a word is written: in capitals in a body of no small letters ("AKIATESTFAKEKEY12345"); capitalised
    before a capital, a digit, a separator or the end ("PasteYourKeyHere", "ThisIsAFakeKey"); in one case at an edge of
    the body or next to a separator ("sk-proj-your-key", "INSERT_KEY_HERE"); "xxxx" in one case anywhere. A long random
    body holds "yOUr" or "hEre" often enough (a random 130-character body about one time in two thousand) for a bare
    substring to cost real keys; as a word is written, about one time in twenty thousand."""
    n = len(w)
    up = w.upper()
    if not any(c.islower() for c in body):
        return up in body
    cap = w.capitalize()
    i = low.find(w)
    while i >= 0:
        seg = body[i : i + n]
        after = body[i + n : i + n + 1]
        if seg == cap and (not after or not after.isalnum() or after.isupper() or after.isdigit()):
            return True
        if seg in (w, up) and (w == "xxxx" or i == 0 or not body[i - 1].isalnum() or not after or not after.isalnum()):
            return True
        i = low.find(w, i + 1)
    return False


def is_placeholder(body: str) -> bool:
    """True when ``body`` (the random part of a token) looks like a
    placeholder rather than a real credential."""
    if not body:
        return True
    low = body.lower()
    for w in _PLACEHOLDER_WORDS:
        # (five letters or more, any case: a random 130-character body holds one about one time in eighty thousand)
        if w in low and (len(w) > 4 or not w.isalpha() or _placeholder_word(body, low, w)):
            return True
    if any(a in body for a in _ALPHABET):
        return True
    if len(set(low)) <= 4:
        return True
    # (a random 16-character AWS key id body, 36 symbols, falls under 3.0 bits once in ~700: under 2.5 never seen
    # in 10^5 draws; "abcabcabcabcabca" and its kind are far lower, and few distinct characters are caught above)
    if len(body) >= 16 and shannon_entropy(body) < (3.0 if len(body) >= 20 else 2.5):
        return True
    # long runs of the same character (XXXXXXXX, 00000000)
    run = 1
    for i in range(1, len(body)):
        if body[i] == body[i - 1]:
            run += 1
            if run >= 6:
                return True
        else:
            run = 1
    return False


def _b64url_json(part: str):
    pad = "=" * (-len(part) % 4)
    try:
        raw = base64.urlsafe_b64decode(part + pad)
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


class SecretsScanner:
    """Detect credentials.  ``types``: subset of :data:`SECRET_TYPES`
    (default all).  ``custom_patterns``: ``{"NAME": "regex"}`` compiled once,
    reported with score 0.9 (named group ``value`` narrows the span)."""

    name = SCANNER

    def __init__(self, types: list[str] | None = None, custom_patterns: dict[str, str] | None = None):
        self.types = select_types(types, SECRET_TYPES, custom_patterns, "secret")
        self.custom = compile_custom(custom_patterns)

    def scan(self, text: str) -> list[Finding]:
        try:
            return self._scan(text)
        except UnicodeEncodeError:  # a lone surrogate (no UTF-8 for it): read as U+FFFD, the same offsets
            return self._scan(without_surrogates(text))

    def _scan(self, text: str) -> list[Finding]:
        if not text:
            return []
        if has_escapes(text):
            # a JSON string's escapes read as what they stand for ("…\\n\\neyJhbGciOi…" in a logged request body):
            # spans are mapped back to the escaped text
            norm: Normalized | Composed = unescaped(text)
        else:
            norm = normalize(text)
        t = norm.text
        raw: list[tuple[str, int, int, float]] = []
        types = self.types
        key_ids: list[tuple[int, int]] = []
        cache: dict = {}
        starts, aws_context = _literal_hits(t)
        for m in _combined_matches(t, starts):
            typ = _GROUP_TYPE[m.lastgroup]
            a, b = m.span()
            if a > 0 and t[a - 1] in _BOUNDARY_CHARS and typ not in ("PRIVATE_KEY", "SLACK_WEBHOOK"):
                continue
            if typ == "AWS_ACCESS_KEY_ID":
                key_ids.append((a, b))
            if typ not in types:
                continue
            res = self._check(typ, t, m, cache)
            if res is not None:
                raw.append(res)
        if (
            "AWS_SECRET_ACCESS_KEY" in types
            and (key_ids or aws_context)
            and gates.has(gates.char_bytes(t), gates.AWS_SECRET_MAP, gates.AWS_SECRET_RUN)
        ):  # (the gate: a run of 40 key characters; the pattern is ~50 ns a character, the gate ~1)
            raw.extend(self._aws_secret(t))
        if "URL_PASSWORD" in types and "@" in t and "://" in t:  # (a one-character search is memchr: first)
            raw.extend(self._url_password(t))
        for name, rx in self.custom:
            for m in rx.finditer(t):
                if "value" in rx.groupindex and m.group("value") is not None:
                    a, b = m.span("value")
                else:
                    a, b = m.span()
                if b > a:
                    raw.append((name, a, b, 0.9))
        if not raw:
            return []
        # overlaps: best score, then longer span (a sorted sweep, overlap.py)
        out: list[Finding] = []
        orig = norm.original
        for typ, a, b, sc in overlap.resolve(raw, _rank):
            oa, ob = norm.span(a, b)
            out.append(Finding(SCANNER, typ, oa, ob, sc, orig[oa:ob]))
        return out

    # ------------------------------------------------------------------
    def _check(self, typ: str, t: str, m: re.Match, cache: dict) -> tuple[str, int, int, float] | None:
        tok = m.group()
        a, b = m.span()
        score = _BASE_SCORE[typ]
        if typ == "PRIVATE_KEY":
            return self._private_key(t, a, b, cache)
        if typ == "JWT":
            parts = tok.split(".")
            hdr = _b64url_json(parts[0])
            if not isinstance(hdr, dict) or "alg" not in hdr:
                return None
            if parts[2] in _JWT_EXAMPLE_SIGS:
                return None
            if _SIG_WORD.fullmatch(parts[2]) and _SAMPLE_CLAIMS.search(json.dumps(_b64url_json(parts[1]))):
                return None  # a sample's claims and a word where the signature goes: '{"sub":"EXAMPLE"}' ….SIGNATURE;
                # (not a real token whose signature alone was redacted: its claims are someone's)
            if not parts[2]:
                if not isinstance(_b64url_json(parts[1]), dict):
                    return None  # a token cut short ("eyJhbGciOi….eyJpc3MiOi…", an ellipsis read as its dots)
                score = 0.7  # unsigned (alg: none) token
            return (typ, a, b, score)
        pm = _BODY_PREFIX.match(tok)
        body = tok[pm.end() :] if pm else tok
        if typ == "SLACK_WEBHOOK":
            segs = [s for s in body.split("/") if s]
            if len(segs) < 2 or any(is_placeholder(s) for s in segs[-1:]) or all(set(s[1:]) <= {"0"} for s in segs[:2]):
                return None
            return (typ, a, b, score)
        if is_placeholder(body):
            return None
        if typ == "SLACK_TOKEN" and sum(c.isalnum() for c in body) < _SLACK_MIN:
            return None  # an illustration ("xoxb-1234-5678-abcdef"): a real token's parts hold 40 characters or more
        if typ == "OPENAI_API_KEY":
            if "T3BlbkFJ" in tok:
                score = 0.97
            elif not pm or pm.group() == "sk-":
                score = 0.8
                if shannon_entropy(body) < 4.0:
                    return None
        elif typ == "STRIPE_KEY" and "_test_" in tok:
            if tok in _STRIPE_DOC_KEYS:
                return None  # the test key Stripe's own documentation prints for everyone
            score = 0.75
        elif typ == "AWS_ACCESS_KEY_ID":
            if not any(c.isdigit() for c in body):
                score = 0.7
        elif typ == "SENDGRID_API_KEY":
            if shannon_entropy(body) < 3.5:
                return None
        return (typ, a, b, score)

    def _private_key(self, t: str, a: int, b: int, _cache: dict | None = None) -> tuple[str, int, int, float] | None:
        window_end = min(len(t), b + 16384)
        # position of the next "-----END" at or after b (cached per text so
        # repeated headers do not rescan the same window)
        nxt = _cache.get("end", -2) if _cache is not None else -2
        if nxt != -1 and (nxt < b):
            nxt = t.find("-----END", b)
            if _cache is not None:
                _cache["end"] = nxt
        endm = _PEM_END.match(t, nxt) if 0 <= nxt < window_end else None
        if endm:
            body = t[b : endm.start()]
            end = endm.end()
        else:
            bm = _PEM_BODY.match(t, b, window_end)
            end = bm.end() if bm else b
            # do not swallow trailing whitespace
            while end > b and t[end - 1].isspace():
                end -= 1
            body = t[b:end]
        b64 = sum(len(x) for x in _B64_CHARS.findall(body))
        if b64 < 32:
            return None  # header-only mention or "..." placeholder body
        compact = "".join(_B64_CHARS.findall(body))
        low = body.lower()
        if any(w in low for w in ("...", "\u2026", "xxxx", "example", "your", "placeholder", "redacted", "<")):
            return None
        if shannon_entropy(compact[:512]) < 3.0:
            return None
        return ("PRIVATE_KEY", a, end, 0.99 if endm else 0.9)

    def _aws_secret(self, t: str):
        """40-character secret keys with AWS context in the 160 characters before them.

        Linear: candidates are at least 41 characters apart, so the context windows searched
        add up to at most ~4x the text; the cheap checks come first and the entropy last."""
        for m in _AWS_SECRET.finditer(t):
            a, b = m.span()
            tok = m.group()
            if "%" in tok:  # URL-encoded ("/" as %2F, "+" as %2B)
                tok = tok.replace("%2F", "/").replace("%2f", "/").replace("%2B", "+").replace("%2b", "+")
            before = t[max(0, a - _AWS_CTX_SPAN) : a]
            low = before.lower()
            if "aws" not in low and "secret" not in low and not any(p in low for p in _AWS_ID_PREFIXES):
                continue  # (plain substring tests first: most 40-character runs have no context at all)
            if tok == tok.lower() or tok == tok.upper():
                continue  # a key mixes upper and lower case (hex digests do not)
            if _AWS_CTX_STRONG.search(before):
                level = 0.85
            elif _AWS_CTX_WEAK.search(before):
                level = 0.7
            else:
                continue
            if not _DIGIT.search(tok) and not (
                level == 0.85
                and _AWS_SYMBOL_BEFORE.search(before)
                and ("/" in tok or "+" in tok)
                and sum(len(g) > 1 and g.islower() for g in tok.split("/")) < 2  # (not a path: "vault/kv/data/team/…")
                and shannon_entropy(tok) >= 4.2
            ):
                continue  # a key has digits, but one in a thousand has none: then its own name right before it, and a / or +
            if is_placeholder(tok) or shannon_entropy(tok) < 3.8:
                continue
            yield ("AWS_SECRET_ACCESS_KEY", a, b, level)

    def _url_password(self, t: str):
        pos = 0
        n = 0
        while True:
            p = t.find("://", pos)
            if p < 0:
                return
            n += 1
            if n > 4096:  # pathological input: one linear pass over the rest
                yield from self._url_password_scan(t, max(0, p - 21))
                return
            pos = p + 3
            start = p
            while (
                start > 0
                and p - start < 20
                and (t[start - 1].isalnum() or t[start - 1] in "+.-")
                and t[start - 1].isascii()
            ):
                start -= 1
            m = _URL_PW.match(t, start, min(len(t), p + 3 + 128 + 256 + 2))
            if m is not None:
                yield from self._url_password_check([m])

    def _url_password_scan(self, t: str, start: int):
        yield from self._url_password_check(_URL_PW.finditer(t, start))

    def _url_password_check(self, matches):
        for m in matches:
            user, pw = m.group(1), m.group(2)
            low = pw.lower()
            if low in _URL_PW_PLACEHOLDERS or pw[0] in "{<" or pw[:2] == "**" or "..." in pw or "\u2026" in pw:
                continue
            if pw[0] == "*" and pw[-1] == "*" and len(pw) > 1:  # (a word in emphasis: "*hidden*", "*masked*")
                continue
            if pw[0] == "%" and _PERCENT_PLACEHOLDER.match(pw):  # ("%s", "%(password)s", "%DB_PASS%"; not "%a!NT0k…")
                continue
            if pw[0] == "$" and (not _DOLLAR_PASSWORD.fullmatch(pw) or _VARIABLE_WORDS.search(low)):
                continue  # a variable ("$REDIS_PASSWORD", "${DB_PASS}", "$pass"), not a password that starts with "$"
            if "redacted" in low:
                continue  # "[REDACTED]", "pw_redacted": a log that masked it
            mark = pw[1:-1]
            if (
                pw[0] + pw[-1] in ("[]", "()")
                and len(mark) >= 4
                and mark.isalpha()
                and (mark.isupper() or mark.islower() or mark.istitle())
            ):
                continue  # a redaction's mark in any language, one word in brackets: "[hidden]", "(Masked)", "[REDACTADO]",
                # "[ENTFERNT]", "(oculto)" (not a passphrase in brackets, "(SuperSecretPassword)", "[Pa_ss-Wo_rd]")
            if low.replace("_", "").replace("-", "") in ("changeme", "changethis", "yourpassword", "mypassword"):
                continue  # "CHANGE_ME", "change-me"
            if len(set(pw)) <= 2 or low.startswith("your") or "example" in low or ("password" in low and len(pw) <= 12):
                continue
            if "{" in pw or "}" in pw:
                continue
            if m.end() < len(m.string) and m.string[m.end()] in "${" and _CONST_NAME.fullmatch(pw):
                continue  # a template's host, its password a constant's name ("__MONGO_PASSWORD__@${MONGO_HOST}")
            if pw == user:
                continue  # postgres:postgres, root:root: a default, not a secret someone leaked
            score = 0.9
            if len(pw) < 4:
                score = 0.6
            yield ("URL_PASSWORD", m.start(2), m.end(2), score)
