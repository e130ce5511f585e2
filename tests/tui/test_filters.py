"""The filter language: parsing, precedence, quoting, errors, and SQL that binds every value."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leash_cli.filters import And, FilterError, Not, Or, Term, compile_filter, parse
from leash_cli.store import open_readonly


def ids(db_path: Path, expr: str) -> list[str]:
    f = compile_filter(expr)
    db = open_readonly(db_path)
    try:
        return [r[0] for r in db.execute(f"SELECT r.id FROM requests r WHERE {f.sql} ORDER BY r.id", f.params_for(db))]
    finally:
        db.close()


# -- parsing ---------------------------------------------------------------------------


def test_empty_matches_everything():
    f = compile_filter("   ")
    assert (f.sql, f.params, bool(f)) == ("1", (), False)


def test_not_binds_tighter_than_and_tighter_than_or():
    assert parse("~p a | ~p b & !~p c") == Or(Term("~p", "a", 0), And(Term("~p", "b", 7), Not(Term("~p", "c", 15))))


def test_parentheses_override_precedence():
    assert parse("(~p a | ~p b) & ~p c") == And(Or(Term("~p", "a", 1), Term("~p", "b", 8)), Term("~p", "c", 16))


def test_juxtaposition_means_and():
    assert parse("~p a ~m b") == And(Term("~p", "a", 0), Term("~m", "b", 5))
    assert parse("~p a ~m b ~t c") == And(And(Term("~p", "a", 0), Term("~m", "b", 5)), Term("~t", "c", 10))


def test_or_is_left_associative():
    assert parse("a | b | c") == Or(Or(Term("~q", "a", 0), Term("~q", "b", 4)), Term("~q", "c", 8))


@pytest.mark.parametrize(
    "expr, value",
    [
        ('~m "gpt 4o"', "gpt 4o"),
        ("~m 'gpt 4o'", "gpt 4o"),
        (r'~q "say \"hi\""', 'say "hi"'),
        (r"~q 'it\'s'", "it's"),
        (r'~q "back\\slash"', "back\\slash"),
        ('~t "a&b|c!(d)"', "a&b|c!(d)"),
    ],
)
def test_quoting(expr, value):
    assert parse(expr).value == value


def test_bare_words_are_full_text_search():
    f = compile_filter("credit card")
    # each search: its FTS query, then the not-yet-indexed matches (filled in by params_for)
    assert f.params == ('"credit"', "[]", '"card"', "[]")
    assert f.searches == ((1, "credit"), (3, "card"))
    assert "requests_fts MATCH ?" in f.sql


def test_quoted_phrase_is_one_search():
    assert compile_filter('~q "credit card"').params == ('"credit" "card"', "[]")


# -- each operator -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, sql, params",
    [
        ("~p openai", "r.provider = ?", ("openai",)),
        ("~m gpt-4o", "r.model = ?", ("gpt-4o",)),
        ("~m claude*", "r.model GLOB ?", ("claude*",)),
        ("~t acme", "r.tenant = ?", ("acme",)),
        ("~o blocked", "r.outcome = ?", ("blocked",)),
        ("~verdict redacted", "r.verdict = ?", ("redacted",)),
        ("~s 429", "r.status = ?", (429,)),
        ("~s 5xx", "r.status BETWEEN ? AND ?", (500, 599)),
        ("~s >=400", "r.status >= ?", (400,)),
        ("~s !=200", "r.status != ?", (200,)),
        ("~c >0.01", "r.cost_usd > ?", (0.01,)),
        ("~c 0.01", "r.cost_usd > ?", (0.01,)),
        ("~c <= 1", "r.cost_usd <= ?", (1.0,)),
        ("~l >500", "r.latency_ms > ?", (500.0,)),
        ("~l <100", "r.latency_ms < ?", (100.0,)),
        ("~v", "EXISTS (SELECT 1 FROM violations v WHERE v.request_id = r.id)", ()),
        (
            "~mod pii-detector",
            "EXISTS (SELECT 1 FROM violations v WHERE v.request_id = r.id AND v.module = ?)",
            ("pii-detector",),
        ),
    ],
)
def test_operator_sql(expr, sql, params):
    f = compile_filter(expr)
    assert (f.sql, f.params) == (sql, params)


def test_alias():
    assert compile_filter("~p x", alias="req").sql == "req.provider = ?"


def test_operators_against_a_database(rich_db):
    assert ids(rich_db, "~p openai") == ["req-0000000", "req-0000004", "req-0000008"]
    assert ids(rich_db, "~s 5xx") == ["req-0000004"]
    assert ids(rich_db, "~s 4xx") == ["req-0000001", "req-0000005"]
    assert ids(rich_db, "~s 429") == ["req-0000005"]
    assert ids(rich_db, "~o blocked") == ["req-0000001", "req-0000005"]
    assert ids(rich_db, "~v") == ["req-0000001", "req-0000002", "req-0000003", "req-0000005"]
    assert ids(rich_db, "~mod pii-detector") == ["req-0000001", "req-0000002"]
    assert ids(rich_db, "~mod pii*") == ["req-0000001", "req-0000002"]
    assert ids(rich_db, "~verdict shadow_blocked") == ["req-0000003"]
    assert ids(rich_db, "~t acme & ~p openai") == ["req-0000000"]
    assert ids(rich_db, "~c >0.001") == ["req-0000010"]
    assert ids(rich_db, "~l >490") == ["req-0000011"]
    assert ids(rich_db, '"7 + 7"') == ["req-0000007"]
    assert ids(rich_db, "~q 14") == ["req-0000007"]


def test_not_includes_nulls(rich_db):
    # cost_usd is NULL (unpriced) for mock rows: "!~c >0" must keep them
    assert "req-0000003" in ids(rich_db, "!~c >0")
    assert set(ids(rich_db, "!~p mock")) == set(ids(rich_db, "~p openai | ~p anthropic | ~p google"))


def test_values_are_bound_never_interpolated(rich_db):
    nasty = "x' OR 1=1 --"
    f = compile_filter(f'~p "{nasty}" | ~m "a;DROP TABLE requests" | "; DELETE FROM requests"')
    assert nasty not in f.sql and "DROP" not in f.sql and "DELETE" not in f.sql
    assert f.sql.count("?") == len(f.params)
    assert nasty in f.params
    assert ids(rich_db, f.text) == []
    assert len(ids(rich_db, "")) == 12  # nothing was dropped


def test_glob_brackets_are_literal(rich_db):
    assert compile_filter("~m a[b]*").params == ("a[[]b]*",)


def test_fts_syntax_in_words_is_quoted(rich_db):
    # FTS5 operators and punctuation are searched as text, not parsed
    f = compile_filter('~q "a:b OR c-d"')
    assert f.params == ('"a:b" "OR" "c-d"', "[]")
    ids(rich_db, f.text)  # does not raise


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, pos, fragment",
    [
        ("~p", 2, "~p needs a value"),
        ("~p openai &", 11, "ends too early"),
        ("(~p a", 5, "missing ')'"),
        ("~p a)", 4, "unbalanced ')'"),
        ("~x 1", 0, "unknown filter '~x'"),
        ("~s 9xx", 3, "expected a status"),
        ("~s abc", 3, "expected a status"),
        ("~c >abc", 4, "expected a number"),
        ("~l >", 4, "expected a number after '>'"),
        ('~q "open', 3, "unterminated"),
        ("& ~p a", 0, "unexpected '&'"),
        ("()", 1, "empty parentheses"),
        ("~p a | | ~p b", 7, "unexpected '|'"),
        ('~p ""', 3, "non-empty"),
        ("~c nan", 3, "finite"),
    ],
)
def test_errors_have_positions(expr, pos, fragment):
    with pytest.raises(FilterError) as e:
        compile_filter(expr)
    assert e.value.pos == pos
    assert fragment in e.value.message
    assert f"column {pos + 1}" in str(e.value)
    assert e.value.caret().splitlines()[1] == " " * pos + "^"


def test_filter_error_is_a_value_error():
    assert issubclass(FilterError, ValueError)


def test_compiled_sql_is_valid_for_every_operator(rich_db):
    db = sqlite3.connect(rich_db)
    for expr in [
        "~p a",
        "~m a*",
        "~t a",
        "~o ok",
        "~verdict blocked",
        "~s 2xx",
        "~s >300",
        "~v",
        "~mod m",
        "~c >1",
        "~l <5",
        "~q hello",
        "!(~p a | ~v) & ~c >0",
    ]:
        f = compile_filter(expr)
        db.execute(f"SELECT count(*) FROM requests r WHERE {f.sql}", f.params).fetchone()
    db.close()


@pytest.mark.slow
def test_search_finds_rows_not_yet_indexed(tmp_path):
    """The gateway indexes for full-text search when idle; a search must not miss the newest rows."""
    from leash_cli.store import open_writable

    path = tmp_path / "h.db"
    db = open_writable(path)
    db.execute("UPDATE fts_state SET deferred = 1")  # as while a recorder runs
    db.execute(
        "INSERT INTO requests (id, started_at, prompt_text, response_text) "
        "VALUES ('r1', '2026-01-01T00:00:00.000Z', 'the zebra crossing', 'ok')"
    )
    db.conn.commit()
    db.close()
    f = compile_filter("zebra")
    ro = open_readonly(path)
    try:
        indexed_only = ro.execute(f"SELECT r.id FROM requests r WHERE {f.sql}", f.params).fetchall()
        both = ro.execute(f"SELECT r.id FROM requests r WHERE {f.sql}", f.params_for(ro)).fetchall()
    finally:
        ro.close()
    assert indexed_only == [] and [r[0] for r in both] == ["r1"]
