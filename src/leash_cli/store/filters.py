"""A small filter language over the history, in the spirit of mitmproxy's.

Grammar (``!`` binds tighter than ``&``, which binds tighter than ``|``;
writing two expressions side by side means ``&``)::

    expr    := or
    or      := and ("|" and)*
    and     := unary (["&"] unary)*
    unary   := "!" unary | "(" expr ")" | term
    term    := "~p" VALUE          provider       (exact; * and ? are wildcards)
             | "~m" VALUE          model          (exact; * and ? are wildcards)
             | "~t" VALUE          tenant         (exact; * and ? are wildcards)
             | "~o" VALUE          outcome        ok, upstream_error, blocked, error, client_cancelled
             | "~verdict" VALUE    verdict        allowed, blocked, redacted, shadow_blocked
             | "~s" STATUS         HTTP status    200, 429, 5xx, >=400
             | "~v"                has a violation
             | "~mod" VALUE        has a violation from that module
             | "~c" NUMBER         cost in USD    >0.01 (a bare number means "above")
             | "~l" NUMBER         latency in ms  >500  (a bare number means "above")
             | "~q" VALUE          full-text search of prompt and completion
             | VALUE               the same as ~q VALUE

    VALUE   := a bare word, or a "double-" or 'single-quoted' string
               (backslash escapes the quote character and itself)
    NUMBER  := [">" | ">=" | "<" | "<=" | "=" | "!="] digits, optionally with
               the operator as a separate word: ``~c > 0.01``

Examples: ``~p openai & ~s 5xx``, ``~t acme !~o ok``, ``(~m gpt-4o | ~m claude*) & ~c >0.01``,
``~q "credit card" ~v``.

:func:`compile_filter` turns an expression into a SQL boolean expression over
the ``requests`` table (aliased ``r``) plus its parameters: every value is a
bound ``?`` parameter, never part of the SQL text.  A bad expression raises
:class:`FilterError` with the 0-based position of the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from leash_cli.store.dialect import SQLITE, SqlDialect
from leash_cli.store.fts import fts_watermark, unindexed_matches

__all__ = ["FilterError", "Filter", "compile_filter", "parse", "OPERATORS"]


class FilterError(ValueError):
    """A filter expression that cannot be used; ``pos`` is the 0-based offset of the problem."""

    def __init__(self, message: str, pos: int, text: str = "") -> None:
        self.message = message
        self.pos = pos
        self.text = text
        super().__init__(f"{message} (at column {pos + 1})")

    def caret(self) -> str:
        """The expression with a ``^`` under the problem, two lines."""
        return f"{self.text}\n{' ' * self.pos}^"


#: operator -> one-line help (for the help screen and error messages)
OPERATORS: dict[str, str] = {
    "~p": "provider (exact; * wildcards)",
    "~m": "model (exact; * wildcards)",
    "~t": "tenant (exact; * wildcards)",
    "~o": "outcome: ok, upstream_error, blocked, error, client_cancelled",
    "~verdict": "verdict: allowed, blocked, redacted, shadow_blocked",
    "~s": "HTTP status: 429, 5xx, >=400",
    "~v": "has a violation",
    "~mod": "has a violation from MODULE",
    "~c": "cost in USD: >0.01 (bare number: above)",
    "~l": "latency in ms: >500 (bare number: above)",
    "~q": "full-text search of prompt and completion",
}
_TEXT_COLUMNS = {"~p": "provider", "~m": "model", "~t": "tenant", "~o": "outcome", "~verdict": "verdict"}
_NUMBER_COLUMNS = {"~c": "cost_usd", "~l": "latency_ms"}
_COMPARATORS = (">=", "<=", "!=", ">", "<", "=")


# -- tokens ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "op" (~x), "word", "str" (quoted), "&", "|", "!", "(", ")", "end"
    value: str
    pos: int


_SPECIAL = set("&|!()")


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _SPECIAL:
            # "!=" directly before a number is a comparator, not a negation
            if ch == "!" and text.startswith("!=", i):
                j = i + 2
                while j < n and not text[j].isspace() and text[j] not in _SPECIAL and text[j] not in "\"'":
                    j += 1
                out.append(Token("word", text[i:j], i))
                i = j
                continue
            out.append(Token(ch, ch, i))
            i += 1
            continue
        if ch in "\"'":
            quote, start = ch, i
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise FilterError("unterminated quoted string", start, text)
                c = text[i]
                if c == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if c == quote:
                    i += 1
                    break
                buf.append(c)
                i += 1
            out.append(Token("str", "".join(buf), start))
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in _SPECIAL and text[i] not in "\"'":
            i += 1
        word = text[start:i]
        out.append(Token("op" if word.startswith("~") else "word", word, start))
    out.append(Token("end", "", n))
    return out


# -- syntax tree ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    op: str  # "~p", "~s", ...
    value: Any = None  # str, or (comparator, number) for ~c/~l, or status tuple
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    node: Any


@dataclass(frozen=True, slots=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Or:
    left: Any
    right: Any


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, message: str, pos: int | None = None) -> FilterError:
        return FilterError(message, self.tok.pos if pos is None else pos, self.text)

    def parse(self) -> Any:
        if self.tok.kind == "end":
            return None
        node = self.or_()
        if self.tok.kind == ")":
            raise self.error("unbalanced ')'")
        if self.tok.kind != "end":  # pragma: no cover - and_() consumes everything else
            raise self.error(f"unexpected {self.tok.value!r}")
        return node

    def or_(self) -> Any:
        node = self.and_()
        while self.tok.kind == "|":
            self.take()
            node = Or(node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.unary()
        while True:
            if self.tok.kind == "&":
                self.take()
                node = And(node, self.unary())
            elif self.tok.kind in ("op", "word", "str", "!", "("):
                node = And(node, self.unary())  # juxtaposition means "and"
            else:
                return node

    def unary(self) -> Any:
        t = self.tok
        if t.kind == "!":
            self.take()
            return Not(self.unary())
        if t.kind == "(":
            self.take()
            if self.tok.kind == ")":
                raise self.error("empty parentheses")
            node = self.or_()
            if self.tok.kind != ")":
                raise self.error("missing ')'" if self.tok.kind == "end" else f"expected ')', got {self.tok.value!r}")
            self.take()
            return node
        if t.kind in ("word", "str"):
            self.take()
            return Term("~q", t.value, t.pos)
        if t.kind == "op":
            return self.term()
        if t.kind == "end":
            raise self.error("expression ends too early: expected a filter after it")
        raise self.error(f"unexpected {t.value!r}: expected a filter such as ~p openai")

    def value(self, op: Token, what: str) -> Token:
        v = self.tok
        if v.kind not in ("word", "str"):
            raise self.error(f"{op.value} needs {what}")
        return self.take()

    def term(self) -> Term:
        op = self.take()
        name = op.value
        if name == "~v":
            return Term("~v", None, op.pos)
        if name in _TEXT_COLUMNS or name in ("~mod", "~q"):
            v = self.value(op, "a value" if name != "~q" else "text to search for")
            if v.value == "":
                raise FilterError(f"{name} needs a non-empty value", v.pos, self.text)
            return Term(name, v.value, op.pos)
        if name == "~s":
            v = self.value(op, "a status such as 429, 5xx or >=400")
            return Term("~s", self.status(v), op.pos)
        if name in _NUMBER_COLUMNS:
            what = "a number such as >0.01" if name == "~c" else "a number of milliseconds such as >500"
            v = self.value(op, what)
            return Term(name, self.number(v, what), op.pos)
        known = ", ".join(OPERATORS)
        raise FilterError(f"unknown filter {name!r} (known: {known})", op.pos, self.text)

    def comparison(self, v: Token) -> tuple[str, str, int]:
        """Split ``>=400`` (or ``>=`` followed by a separate word) into (comparator, rest, pos)."""
        text = v.value
        if v.kind == "word":
            for c in _COMPARATORS:
                if text.startswith(c):
                    rest = text[len(c) :]
                    if rest == "":
                        nxt = self.tok
                        if nxt.kind != "word":
                            raise FilterError(f"expected a number after {c!r}", nxt.pos, self.text)
                        self.take()
                        return c, nxt.value, nxt.pos
                    return c, rest, v.pos + len(c)
        return "", text, v.pos

    def number(self, v: Token, what: str) -> tuple[str, float]:
        cmp, rest, pos = self.comparison(v)
        try:
            num = float(rest)
        except ValueError:
            raise FilterError(f"expected {what}, got {rest!r}", pos, self.text) from None
        if num != num or num in (float("inf"), float("-inf")):
            raise FilterError(f"expected a finite number, got {rest!r}", pos, self.text)
        return cmp or ">", num

    def status(self, v: Token) -> tuple[str, int, int]:
        cmp, rest, pos = self.comparison(v)
        m = re.fullmatch(r"([1-5])[xX]{2}", rest)
        if m and not cmp:
            lo = int(m.group(1)) * 100
            return "between", lo, lo + 99
        if re.fullmatch(r"\d{3}", rest):
            return cmp or "=", int(rest), 0
        raise FilterError(f"expected a status such as 429, 5xx or >=400, got {rest!r}", pos, self.text)


def parse(text: str) -> Any:
    """The syntax tree of an expression (None for an empty one); raises FilterError."""
    return _Parser(text).parse()


# -- SQL -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A compiled expression: ``sql`` is a boolean SQL expression, ``params`` its values."""

    text: str
    sql: str
    params: tuple[Any, ...] = field(default_factory=tuple)
    searches: tuple[tuple[int, str], ...] = field(default_factory=tuple)  # (param index, words) of each text search

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    def params_for(self, db: Any) -> list[Any]:
        """The parameters for running ``sql`` on ``db`` now: text searches also cover the rows
        the gateway has written but not yet indexed for full-text search."""
        params = list(self.params)
        if self.searches:
            upto = fts_watermark(db)
            for index, words in self.searches:
                params[index] = orjson.dumps(unindexed_matches(db, words, after=upto)).decode()
        return params


def has_wildcard(v: str) -> bool:
    """Whether a filter value is a pattern (``*``, ``?``)."""
    return "*" in v or "?" in v


def _glob_escape(v: str) -> str:
    # keep * and ? as wildcards, make [ literal
    return v.replace("[", "[[]")


def _fts_query(text: str) -> str:
    """Plain words -> an FTS5 query matching rows containing all of them (each word quoted)."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        w = word[:-1] if prefix else word
        terms.append('"' + w.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


class SqlCompiler:
    """A syntax tree as a boolean SQL expression over ``requests {alias}``, its values collected in
    :attr:`params` (never in the SQL text).  What the backends spell differently, a text match with
    wildcards and a full-text search, is a subclass's (:meth:`match`, :meth:`search`)."""

    dialect: SqlDialect
    #: false, as the dialect writes it (``NOT coalesce(x, false)`` is true for NULL)
    false: str

    def __init__(self, alias: str = "r") -> None:
        self.alias = alias
        self.params: list[Any] = []

    def match(self, column: str, value: str) -> str:
        """``column`` equals ``value``, or matches it as a pattern when it has ``*`` or ``?``."""
        raise NotImplementedError

    def search(self, text: str) -> str:
        """The row's prompt or completion holds every word of ``text``."""
        raise NotImplementedError

    def sql(self, node: Any) -> str:
        a, ph = self.alias, self.dialect.ph
        if isinstance(node, Or):
            return f"({self.sql(node.left)} OR {self.sql(node.right)})"
        if isinstance(node, And):
            return f"({self.sql(node.left)} AND {self.sql(node.right)})"
        if isinstance(node, Not):
            # NULL-safe: "not provider X" includes rows whose provider is NULL
            return f"NOT coalesce({self.sql(node.node)}, {self.false})"
        assert isinstance(node, Term)
        op, v = node.op, node.value
        if op in _TEXT_COLUMNS:
            return self.match(f"{a}.{_TEXT_COLUMNS[op]}", v)
        if op == "~mod":
            return f"EXISTS (SELECT 1 FROM violations v WHERE v.request_id = {a}.id AND {self.match('v.module', v)})"
        if op == "~s":
            kind, lo, hi = v
            if kind == "between":
                self.params.extend((lo, hi))
                return f"{a}.status BETWEEN {ph} AND {ph}"
            self.params.append(lo)
            return f"{a}.status {kind} {ph}"
        if op in _NUMBER_COLUMNS:
            cmp, num = v
            self.params.append(num)
            return f"{a}.{_NUMBER_COLUMNS[op]} {cmp} {ph}"
        if op == "~v":
            return f"EXISTS (SELECT 1 FROM violations v WHERE v.request_id = {a}.id)"
        if op == "~q":
            return self.search(v)
        raise AssertionError(op)  # pragma: no cover


class _SqliteSql(SqlCompiler):
    dialect = SQLITE
    false = "0"

    def __init__(self, alias: str = "r") -> None:
        super().__init__(alias)
        self.searches: list[tuple[int, str]] = []

    def match(self, column: str, value: str) -> str:
        if has_wildcard(value):
            self.params.append(_glob_escape(value))
            return f"{column} GLOB ?"
        self.params.append(value)
        return f"{column} = ?"

    def search(self, text: str) -> str:
        q = _fts_query(text)
        if not q:
            return "0"
        self.params.append(q)
        self.params.append("[]")  # the matching rows not yet indexed: filled in by Filter.params_for(db)
        self.searches.append((len(self.params) - 1, text))
        a = self.alias
        return (
            f"({a}.rowid IN (SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?)"
            f" OR {a}.rowid IN (SELECT value FROM json_each(?)))"
        )


def compile_filter(text: str | None, alias: str = "r") -> Filter:
    """Compile an expression to ``Filter(text, sql, params)``; an empty one matches everything (``1``)."""
    text = text or ""
    node = parse(text)
    if node is None:
        return Filter(text, "1", ())
    compiler = _SqliteSql(alias)
    sql = compiler.sql(node)
    return Filter(text, sql, tuple(compiler.params), tuple(compiler.searches))
