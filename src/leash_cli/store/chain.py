"""The tamper-evident audit chain: hashing, signing and verifying, for every backend.

Which rows are chained ("audit and decision records"):

- every ``audit_log`` row (chain ``audit``; never pruned);
- every ``requests`` row and every ``violations`` row (chain ``decision``:
  the decision taken on each exchange and the findings behind it; retention
  removes it in whole segments from its oldest end).

Each chain entry (table ``audit_chain``) names one row (``kind`` + ``ref``:
the request id, or the violation / audit row id) and stores ``row_hash``, the
SHA-256 of the row's canonical content (:func:`row_hash`: its values in
column order, normalised to the column's type, as JSON), ``prev_hash``, the
``hash`` of the entry before it in the same chain, and its own ``hash`` over
both (:func:`link_hash`; the entry's ``seq`` is part of it, so removing an
entry leaves a gap that cannot be closed by renumbering without rewriting
every later hash).

A chain of plain hashes can be rewritten by whoever can write the database;
what cannot be rewritten is a **checkpoint** (table ``audit_checkpoints``): the
head of both chains signed with HMAC-SHA256 under a key kept outside the
database (:func:`load_key`), each checkpoint also signing the previous one's
MAC.  The writer signs one every ``storage.audit_checkpoint_interval`` while
rows arrive and one when it shuts down.  Retention leaves a signed
**tombstone** (table ``audit_tombstones``): the last removed entry's seq and
hash and how many entries were removed, so the chain still verifies after.

The writer appends entries in the transaction that writes the rows (one writer
owns the writes, so chain order is commit order); :func:`verify` needs only a
:class:`ChainSource` from a backend.

Several writers on one database (PostgreSQL: gateways sharing ``storage.url``)
each keep chains of their own: an entry's ``writer`` names its writer, and its
chains are ``audit@<writer>`` and ``decision@<writer>`` (:func:`chain_names`),
with a ``seq`` of their own and checkpoints of their own (the writer is part of
each checkpoint's MAC).  SQLite has one writer, ``""``, whose chains are plain
``audit`` and ``decision``.  :func:`verify` walks each writer's chains on their
own; a row is checked against the newest entry any writer holds for it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from leash_cli.store.schema import AUDIT_COLUMNS, REQUEST_COLUMNS, VIOLATION_COLUMNS

__all__ = [
    "GENESIS",
    "CHAINS",
    "KIND_CHAIN",
    "KIND_TABLE",
    "chain_names",
    "chain_writer",
    "Entry",
    "Checkpoint",
    "Tombstone",
    "AuditKey",
    "KeyError_",
    "load_key",
    "row_hash",
    "link_hash",
    "make_entries",
    "chain_rows",
    "checkpoint_mac",
    "tombstone_mac",
    "Finding",
    "Report",
    "WriterReport",
    "ChainSource",
    "verify",
    "export_records",
]

GENESIS = "0" * 64
CHAINS = ("audit", "decision")
#: which chain each kind of row is in
KIND_CHAIN = {"request": "decision", "violation": "decision", "audit": "audit"}
#: which table each kind of row is in
KIND_TABLE = {"request": "requests", "violation": "violations", "audit": "audit_log"}

_REAL = frozenset({"latency_ms", "upstream_ms", "overhead_ms", "ttft_ms", "cost_usd", "score"})
_INT = frozenset(
    {
        "status",
        "stream",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "request_body_truncated",
        "response_body_truncated",
        "start",
        "end",
    }
)


def chain_names(writer: str = "") -> dict[str, str]:
    """The stored names of one writer's chains: ``{"audit": ..., "decision": ...}``."""
    if not writer:
        return {c: c for c in CHAINS}
    return {c: f"{c}@{writer}" for c in CHAINS}


def chain_writer(chain: str) -> str:
    """The writer a stored chain name belongs to (``""``: the single writer of a SQLite history)."""
    return chain.partition("@")[2]


def _types(columns: Sequence[str]) -> tuple[str, ...]:
    return tuple("r" if c in _REAL else "i" if c in _INT else "t" for c in columns)


#: the column types of each kind of row, as the canonical form reads them (violation and audit rows lead with id)
KIND_TYPES: dict[str, tuple[str, ...]] = {
    "request": _types(REQUEST_COLUMNS),
    "violation": ("i", *_types(VIOLATION_COLUMNS)),
    "audit": ("i", *_types(AUDIT_COLUMNS)),
}


def _norm(v: Any, t: str) -> Any:
    """A value as the database gives it back (SQLite's column affinity), so the writer and a reader agree."""
    if v is None:
        return None
    tv = type(v)
    if t == "t":
        return v if tv is str else str(v)
    if t == "r":
        if tv is float:
            return v
        try:
            return float(v)
        except (TypeError, ValueError):
            return v
    if tv is int:
        return v
    if tv is bool:
        return int(v)
    if tv is float and v.is_integer():
        return int(v)
    if tv is str:
        try:
            return int(v)
        except ValueError:
            return v
    return v


_PYTYPE = {"t": str, "r": float, "i": int}
#: per kind: (column type, the Python type a value of it already has) for each column
_KIND_CHECKS = {k: tuple((t, _PYTYPE[t]) for t in ts) for k, ts in KIND_TYPES.items()}


def row_hash(kind: str, values: Sequence[Any]) -> str:
    """SHA-256 (hex) of a row's canonical content: ``[kind, value, ...]`` as JSON, values normalised."""
    canon: list[Any] = [kind]
    canon += [v if v is None or type(v) is pt else _norm(v, t) for v, (t, pt) in zip(values, _KIND_CHECKS[kind])]
    return hashlib.sha256(orjson.dumps(canon, default=str)).hexdigest()


def link_hash(prev_hash: str, seq: int, chain: str, kind: str, ref: str, created_at: str, rhash: str) -> str:
    """The hash of one chain entry: over the previous entry's hash, its own place and its row's hash."""
    text = f"{prev_hash}|{seq}|{chain}|{kind}|{ref}|{created_at}|{rhash}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``audit_chain`` row."""

    seq: int
    chain: str
    kind: str
    ref: str
    created_at: str
    row_hash: str
    prev_hash: str
    hash: str
    writer: str = ""

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.seq, self.chain, self.kind, self.ref, self.created_at, self.row_hash, self.prev_hash, self.hash)


def make_entries(
    heads: dict[str, tuple[int, str]],
    next_seq: int,
    rows: Iterable[tuple[str, str, str, Sequence[Any]]],
    writer: str = "",
) -> list[tuple[Any, ...]]:
    """Chain entries (``audit_chain`` rows: seq, chain, kind, ref, created_at, row_hash, prev_hash, hash) for new
    rows ``(kind, ref, created_at, values)`` after ``heads`` (``"audit"`` / ``"decision"`` -> (seq, hash)),
    numbered from ``next_seq``, in ``writer``'s chains; ``heads`` is updated to the new heads."""
    out: list[tuple[Any, ...]] = []
    seq = next_seq
    sha = hashlib.sha256
    names = chain_names(writer)
    for kind, ref, created, values in rows:
        base = KIND_CHAIN[kind]
        chain = names[base]
        prev = heads[base][1]
        rh = row_hash(kind, values)
        h = sha(f"{prev}|{seq}|{chain}|{kind}|{ref}|{created}|{rh}".encode()).hexdigest()  # link_hash, inlined
        out.append((seq, chain, kind, ref, created, rh, prev, h))
        heads[base] = (seq, h)
        seq += 1
    return out


def chain_rows(
    requests: Iterable[Sequence[Any]], violations: Sequence[Sequence[Any]], audits: Iterable[Sequence[Any]]
) -> list[tuple[str, str, str, Sequence[Any]]]:
    """A batch's rows in chain order, as :func:`make_entries` takes them: each request followed by its
    findings (retention keeps them together), then findings of other requests, then audit rows.  Violation
    and audit rows lead with their id (``(id, *VIOLATION_COLUMNS)``, ``(id, *AUDIT_COLUMNS)``)."""
    rows: list[tuple[str, str, str, Sequence[Any]]] = []
    by_request: dict[Any, list[tuple[str, str, str, Sequence[Any]]]] = {}
    for v in violations:
        by_request.setdefault(v[1], []).append(("violation", str(v[0]), v[1 + _VIOL_CREATED], v))
    for r in requests:
        rows.append(("request", r[_REQ_ID], r[_REQ_STARTED], r))
        rows.extend(by_request.pop(r[_REQ_ID], ()))
    for rest in by_request.values():
        rows.extend(rest)
    rows.extend(("audit", str(a[0]), a[1 + _AUDIT_CREATED], a) for a in audits)
    return rows


_REQ_ID = REQUEST_COLUMNS.index("id")
_REQ_STARTED = REQUEST_COLUMNS.index("started_at")
_VIOL_CREATED = VIOLATION_COLUMNS.index("created_at")
_AUDIT_CREATED = AUDIT_COLUMNS.index("created_at")


# -- the key -------------------------------------------------------------------------


class KeyError_(Exception):
    """The audit key cannot be read or made."""


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The HMAC key checkpoints and tombstones are signed with (kept outside the database)."""

    secret: bytes
    source: str  # where it came from: $LEASH_AUDIT_KEY or a file path

    @property
    def id(self) -> str:
        """A short public name of the key (the first 16 hex digits of its SHA-256), stored beside each MAC."""
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()


def default_key_file() -> Path:
    from leash_cli.paths import leash_home

    return leash_home() / "audit.key"


def load_key(key_file: str | os.PathLike[str] | None = None, *, create: bool = False) -> AuditKey:
    """The audit key: ``$LEASH_AUDIT_KEY`` when set, else the file ``key_file`` (``storage.audit_key_file``)
    or ``$LEASH_HOME/audit.key``.  With ``create`` a missing file is made (32 random bytes, hex, mode 0600).
    Raises :class:`KeyError_` when there is no usable key."""
    env = os.environ.get("LEASH_AUDIT_KEY")
    if env:
        if len(env) < 16:
            raise KeyError_("$LEASH_AUDIT_KEY is too short (at least 16 characters)")
        return AuditKey(env.encode("utf-8"), "$LEASH_AUDIT_KEY")
    path = Path(key_file).expanduser() if key_file else default_key_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not create:
            raise KeyError_(f"no audit key at {path} (set $LEASH_AUDIT_KEY or storage.audit_key_file)") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        text = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return load_key(path, create=False)
        except OSError as e:
            raise KeyError_(f"cannot create the audit key {path}: {e}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        raise KeyError_(f"cannot read the audit key {path}: {e}") from None
    if len(text) < 16:
        raise KeyError_(f"the audit key {path} is too short (at least 16 characters)")
    return AuditKey(text.encode("utf-8"), str(path))


# -- checkpoints and tombstones -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One ``audit_checkpoints`` row: the heads of both chains, signed."""

    id: int
    created_at: str
    reason: str  # interval | shutdown | manual | adopted (an idle writer's tail, signed by a running one)
    audit_seq: int
    audit_hash: str
    decision_seq: int
    decision_hash: str
    prev_mac: str
    key_id: str
    mac: str
    writer: str = ""

    def heads(self) -> dict[str, tuple[int, str]]:
        return {"audit": (self.audit_seq, self.audit_hash), "decision": (self.decision_seq, self.decision_hash)}

    def chain_heads(self) -> dict[str, tuple[int, str]]:
        """The heads by stored chain name (``audit``, or ``audit@<writer>`` when there are several writers)."""
        names = chain_names(self.writer)
        return {names[c]: h for c, h in self.heads().items()}


def checkpoint_mac(
    key: AuditKey, created_at: str, reason: str, heads: dict[str, tuple[int, str]], prev_mac: str, writer: str = ""
) -> str:
    """The MAC of a checkpoint; a named writer's (PostgreSQL) also signs the writer, so one writer's checkpoint
    cannot stand in for another's."""
    payload = orjson.dumps(
        [
            "checkpoint",
            created_at,
            reason,
            heads["audit"][0],
            heads["audit"][1],
            heads["decision"][0],
            heads["decision"][1],
            prev_mac,
        ]
        + ([writer] if writer else [])
    )
    return key.sign(payload)


@dataclass(frozen=True, slots=True)
class Tombstone:
    """One ``audit_tombstones`` row: what retention removed from the start of a chain."""

    chain: str
    upto_seq: int
    last_hash: str
    removed: int
    updated_at: str
    key_id: str | None
    mac: str | None


def tombstone_mac(key: AuditKey, chain: str, upto_seq: int, last_hash: str, removed: int) -> str:
    return key.sign(orjson.dumps(["tombstone", chain, upto_seq, last_hash, removed]))


# -- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing verification found.  ``problem``: edited | deleted | inserted | entry_edited | entries_removed |
    checkpoint_forged | checkpoint_removed | chain_rewritten | tail_cut | tombstone_forged."""

    problem: str
    table: str | None
    ref: str | None
    seq: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "table": self.table, "ref": self.ref, "seq": self.seq, "detail": self.detail}


@dataclass(slots=True)
class WriterReport:
    """What verification found of one writer's chains (one for a SQLite history, its writer ``""``)."""

    writer: str
    entries: int = 0
    checkpoints: int = 0
    last_checkpoint: Checkpoint | None = None
    unsigned_tail: int = 0

    def as_dict(self) -> dict[str, Any]:
        cp = self.last_checkpoint
        return {
            "writer": self.writer,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "last_checkpoint": None
            if cp is None
            else {"id": cp.id, "created_at": cp.created_at, "reason": cp.reason, "heads": cp.chain_heads()},
            "unsigned_tail": self.unsigned_tail,
        }


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    entries: int = 0  # chain entries walked
    rows: int = 0  # rows checked against their entry
    pre_chain: int = 0  # rows older than the chain (written before it existed): not covered
    checkpoints: int = 0
    last_checkpoint: Checkpoint | None = None  # the newest of any writer
    unsigned_tail: int = 0  # entries after the last checkpoint (not signed yet), over every writer
    tombstones: list[Tombstone] = field(default_factory=list)
    key_id: str | None = None
    writers: list[WriterReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        cp = self.last_checkpoint
        return {
            "ok": self.ok,
            "entries": self.entries,
            "rows": self.rows,
            "pre_chain_rows": self.pre_chain,
            "checkpoints": self.checkpoints,
            "last_checkpoint": None
            if cp is None
            else {"id": cp.id, "created_at": cp.created_at, "reason": cp.reason, "heads": cp.chain_heads()},
            "unsigned_tail": self.unsigned_tail,
            "removed_by_retention": {t.chain: t.removed for t in self.tombstones},
            "writers": [w.as_dict() for w in self.writers],
            "findings": [f.as_dict() for f in self.findings],
        }


class ChainSource(Protocol):
    """What :func:`verify` and :func:`export_records` read from a backend."""

    def entries(self) -> Iterator[Entry]:
        """Every chain entry, by writer and ``seq``."""
        ...

    def rows(self, kind: str) -> Iterator[tuple[int, str, str, tuple[Any, ...]]]:
        """Every row of one kind: ``(rowid, ref, created_at, values)``, values in the order ``row_hash`` takes."""
        ...

    def pre_chain(self, kind: str) -> int:
        """The highest rowid of that kind's table when the chain began (rows at or below it are not chained)."""
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first (per writer)."""
        ...

    def tombstones(self) -> dict[str, Tombstone]: ...

    def close(self) -> None:
        """Release the read snapshot."""
        ...


def verify(source: ChainSource, key: AuditKey | None, since: str | None = None) -> Report:
    """Walk every writer's chains, check every chained row against its entry, every checkpoint and tombstone
    against the key, and find rows that are not chained.  ``since``: check rows and links from that time on
    only (the chains are still walked from their start so every entry's place is known)."""
    rep = Report(key_id=key.id if key else None)
    add = rep.findings.append
    tombs = source.tombstones()
    rep.tombstones = list(tombs.values())
    for t in tombs.values():
        if (
            key is None
            or t.mac is None
            or not hmac.compare_digest(t.mac, tombstone_mac(key, t.chain, t.upto_seq, t.last_hash, t.removed))
        ):
            add(
                Finding(
                    "tombstone_forged",
                    "audit_tombstones",
                    t.chain,
                    t.upto_seq,
                    f"the retention tombstone of chain {t.chain} is not signed by this key "
                    "(forged, altered, or another key)",
                )
            )
    by_writer: dict[str, list[Entry]] = {}
    for e in source.entries():
        rep.entries += 1
        by_writer.setdefault(e.writer, []).append(e)
    cps_by_writer: dict[str, list[Checkpoint]] = {}
    for cp in source.checkpoints():
        rep.checkpoints += 1
        cps_by_writer.setdefault(cp.writer, []).append(cp)
    writers = sorted(set(by_writer) | set(cps_by_writer) | {chain_writer(c) for c in tombs})
    # (kind, ref) -> writer -> the newest entry of that writer for the row
    latest: dict[tuple[str, str], dict[str, Entry]] = {}
    for w in writers:
        wr = _verify_writer(w, by_writer.get(w, []), cps_by_writer.get(w, []), tombs, key, since, add, latest)
        rep.writers.append(wr)
        rep.unsigned_tail += wr.unsigned_tail
        wcp = wr.last_checkpoint
        if wcp is not None and (rep.last_checkpoint is None or wcp.created_at >= rep.last_checkpoint.created_at):
            rep.last_checkpoint = wcp
    # 3. the rows
    for kind, table in KIND_TABLE.items():
        pre = source.pre_chain(kind)
        seen: set[str] = set()
        for rowid, ref, created, values in source.rows(kind):
            held = latest.get((kind, ref))
            if held is None:
                if rowid <= pre:
                    rep.pre_chain += 1
                elif since is None or (created or "") >= since:
                    add(
                        Finding(
                            "inserted",
                            table,
                            ref,
                            None,
                            f"{table} row {ref} ({created}) is not in the chain: inserted outside leash",
                        )
                    )
                continue
            seen.add(ref)
            le = max(held.values(), key=lambda e: e.created_at)
            if since is not None and le.created_at < since:
                continue
            rep.rows += 1
            rh = row_hash(kind, values)
            # a row written again by another writer (a resubmitted exchange) matches that writer's entry
            if all(rh != e.row_hash for e in held.values()):
                add(
                    Finding(
                        "edited",
                        table,
                        ref,
                        le.seq,
                        f"{table} row {ref} was edited after it was written (chain entry {_where(le)})",
                    )
                )
        for (k, ref), held in latest.items():
            if k != kind or ref in seen:
                continue
            gone = max(held.values(), key=lambda e: e.created_at)
            if since is None or gone.created_at >= since:
                add(
                    Finding(
                        "deleted",
                        table,
                        ref,
                        gone.seq,
                        f"{table} row {ref} ({gone.created_at}) was deleted (chain entry {_where(gone)})",
                    )
                )
    rep.findings.sort(key=lambda f: (f.seq if f.seq is not None else -1, f.problem))
    return rep


def _where(e: Entry) -> str:
    """An entry's place for a message: its seq, and its writer when there are several."""
    return f"{e.seq} of writer {e.writer}" if e.writer else str(e.seq)


def _verify_writer(
    writer: str,
    entries: list[Entry],
    cps: list[Checkpoint],
    tombs: dict[str, Tombstone],
    key: AuditKey | None,
    since: str | None,
    add: Any,
    latest: dict[tuple[str, str], dict[str, Entry]],
) -> WriterReport:
    """The links and checkpoints of one writer's chains (entries by seq, checkpoints oldest first)."""
    wr = WriterReport(writer, entries=len(entries), checkpoints=len(cps))
    names = chain_names(writer)
    base_of = {v: k for k, v in names.items()}
    wtombs = {c: tombs[n] for c, n in names.items() if n in tombs}
    whose = f" of writer {writer}" if writer else ""
    # 1. the links
    expect = {c: (wtombs[c].upto_seq, wtombs[c].last_hash) if c in wtombs else (0, GENESIS) for c in CHAINS}
    by_seq: dict[int, Entry] = {}
    last_seq = {c: expect[c][0] for c in CHAINS}
    for e in entries:
        by_seq[e.seq] = e
        base = base_of.get(e.chain)
        if base is None:
            add(Finding("entry_edited", "audit_chain", e.ref, e.seq, f"entry {e.seq}{whose} names an unknown chain"))
            continue
        checking = since is None or e.created_at >= since
        own = link_hash(e.prev_hash, e.seq, e.chain, e.kind, e.ref, e.created_at, e.row_hash)
        if own != e.hash and checking:
            add(
                Finding(
                    "entry_edited",
                    "audit_chain",
                    e.ref,
                    e.seq,
                    f"chain entry {e.seq}{whose} ({e.kind} {e.ref}) was edited: its hash does not match its content",
                )
            )
        prev_seq, prev_hash = expect[base]
        if e.prev_hash != prev_hash and checking:
            gap = e.seq - prev_seq - 1
            if wtombs.get(base) and prev_seq == wtombs[base].upto_seq and e.seq <= prev_seq:
                what = "follows the retention tombstone but does not link to it"
            else:
                what = f"does not link to entry {prev_seq}: " + (
                    f"{gap} entries between them were removed"
                    if gap > 0
                    else "an entry was inserted or replaced before it"
                )
            add(
                Finding(
                    "entries_removed" if gap > 0 else "entry_edited",
                    "audit_chain",
                    e.ref,
                    e.seq,
                    f"{e.chain} chain: entry {e.seq} {what}",
                )
            )
        expect[base] = (e.seq, e.hash)
        last_seq[base] = e.seq
        held = latest.setdefault((e.kind, e.ref), {})
        prior = held.get(writer)
        if prior is None or prior.seq < e.seq:
            held[writer] = e  # a row written again (a resubmitted exchange) is checked against its last entry
    # 2. the checkpoints
    prev_mac = ""
    #: per chain: the highest entry any valid checkpoint signed, and that checkpoint (a later checkpoint of a
    #: cut chain signs a lower head: the cut is still a cut)
    signed_top: dict[str, tuple[int, Checkpoint]] = {}
    for cp in cps:
        if key is None:
            break
        good = cp.key_id == key.id and hmac.compare_digest(
            cp.mac, checkpoint_mac(key, cp.created_at, cp.reason, cp.heads(), cp.prev_mac, cp.writer)
        )
        if not good:
            why = "signed with another key" if cp.key_id != key.id else "forged or altered"
            add(
                Finding(
                    "checkpoint_forged", "audit_checkpoints", str(cp.id), None, f"checkpoint {cp.id}{whose} is {why}"
                )
            )
            continue
        if cp.prev_mac != prev_mac:
            add(
                Finding(
                    "checkpoint_removed",
                    "audit_checkpoints",
                    str(cp.id),
                    None,
                    f"checkpoint {cp.id}{whose} does not follow the checkpoint before it: checkpoints were removed",
                )
            )
        prev_mac = cp.mac
        wr.last_checkpoint = cp
        for chain, (seq, _h) in cp.heads().items():
            if chain not in signed_top or seq > signed_top[chain][0]:
                signed_top[chain] = (seq, cp)
        if since is not None and cp.created_at < since:
            continue
        for chain, (seq, h) in cp.heads().items():
            if seq == 0 or (chain in wtombs and seq <= wtombs[chain].upto_seq):
                continue
            at = by_seq.get(seq)
            if at is None:
                if seq > last_seq[chain]:
                    continue  # reported as a cut tail below
                add(
                    Finding(
                        "chain_rewritten",
                        "audit_chain",
                        None,
                        seq,
                        f"checkpoint {cp.id} signed {names[chain]} entry {seq}, which is gone",
                    )
                )
            elif at.hash != h or at.chain != names[chain]:
                add(
                    Finding(
                        "chain_rewritten",
                        "audit_chain",
                        at.ref,
                        seq,
                        f"checkpoint {cp.id} signed a different {names[chain]} entry {seq}: the chain up to it "
                        "was rewritten",
                    )
                )
    for chain, (seq, top_cp) in signed_top.items():
        if seq > last_seq[chain]:
            add(
                Finding(
                    "tail_cut",
                    "audit_chain",
                    None,
                    seq,
                    f"the {names[chain]} chain ends at entry {last_seq[chain]} but checkpoint {top_cp.id} "
                    f"({top_cp.created_at}) signed it up to entry {seq}: {seq - last_seq[chain]} or more "
                    "entries at its end were removed",
                )
            )
    last_cp = wr.last_checkpoint
    if last_cp is not None:
        top = max(last_cp.audit_seq, last_cp.decision_seq)
        wr.unsigned_tail = sum(1 for s in by_seq if s > top)
    else:
        wr.unsigned_tail = len(by_seq)
    return wr


def export_records(source: ChainSource, since: str | None = None) -> Iterator[dict[str, Any]]:
    """The chain for a SIEM, one record per line: every entry with its row (as stored) and its proof (row hash,
    previous hash, hash), then every checkpoint and tombstone with its MAC."""
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    columns = {"request": REQUEST_COLUMNS, "violation": ("id", *VIOLATION_COLUMNS), "audit": ("id", *AUDIT_COLUMNS)}
    for t in source.tombstones().values():
        yield {
            "type": "tombstone",
            "chain": t.chain,
            "upto_seq": t.upto_seq,
            "last_hash": t.last_hash,
            "removed": t.removed,
            "updated_at": t.updated_at,
            "key_id": t.key_id,
            "mac": t.mac,
        }
    for kind in KIND_TABLE:
        for _rowid, ref, _created, values in source.rows(kind):
            rows[(kind, ref)] = values
    for e in source.entries():
        if since is not None and e.created_at < since:
            continue
        stored = rows.get((e.kind, e.ref))
        row = None if stored is None else dict(zip(columns[e.kind], stored))
        yield {
            "type": "entry",
            "seq": e.seq,
            "chain": e.chain,
            "kind": e.kind,
            "table": KIND_TABLE[e.kind],
            "ref": e.ref,
            "created_at": e.created_at,
            "row_hash": e.row_hash,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
            "row": row,
        }
    for c in source.checkpoints():
        if since is not None and c.created_at < since:
            continue
        cp = c
        yield {
            "type": "checkpoint",
            "id": cp.id,
            "created_at": cp.created_at,
            "reason": cp.reason,
            "heads": cp.chain_heads(),
            "prev_mac": cp.prev_mac,
            "key_id": cp.key_id,
            "mac": cp.mac,
        }
