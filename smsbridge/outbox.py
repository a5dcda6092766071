"""The durable outbox: every SMS is a row in SQLite (WAL, synchronous=FULL) before the
webhook is answered, and leaves the `pending` state only as `sent` or `dead`.

The webhook handler calls `accept()`: one IMMEDIATE transaction checks the
de-duplication key, lets a planner add rows (it can query rate-limit and "was the
firing sent" state inside the same transaction), records the key, and commits with
an fsync. Any SQLite failure surfaces as `OutboxUnavailable`, which the server turns
into a 503 so Alertmanager retries. The sender worker reads due rows with `due()` and
records outcomes; nothing is held in memory that a kill -9 could lose.

All methods are synchronous and serialised by one lock; async callers use
`asyncio.to_thread`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar

SCHEMA_VERSION: Final = 3
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    route TEXT NOT NULL,
    template TEXT NOT NULL,
    dlt_template_id TEXT NOT NULL,
    body TEXT NOT NULL,
    parts INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    gateway_ref TEXT NOT NULL DEFAULT '',
    done_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_number ON outbox (number, kind, created_at);
CREATE TABLE IF NOT EXISTS dedup (key TEXT PRIMARY KEY, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_at REAL, broken_at REAL, silent_since REAL, reminded_at REAL
);
CREATE TABLE IF NOT EXISTS fired (
    route TEXT NOT NULL, group_key TEXT NOT NULL, number TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (route, group_key, number)
);
CREATE TABLE IF NOT EXISTS ended (
    group_key TEXT NOT NULL, alert TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (group_key, alert)
);
"""

# `heartbeat` rows are the dead man's switch's own SMS (never rate limited); `email` rows
# carry an address in `number` and "subject\n\nbody" in `body`, and go out over SMTP.
Kind = Literal["alert", "summary", "heartbeat", "email"]
T = TypeVar("T")


class OutboxUnavailable(Exception):
    """The outbox could not be read or written (disk full, locked, read-only, corrupt)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    kind: Kind
    number: str
    route: str
    template: str
    dlt_template_id: str
    body: str
    parts: int
    group_key: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatState:
    """The dead man's switch's durable memory (all epoch seconds, None = never)."""

    last_at: float | None = None
    broken_at: float | None = None
    silent_since: float | None = None
    reminded_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingMessage:
    id: int
    created_at: float
    kind: str
    attempts: int
    number: str
    route: str
    template: str
    dlt_template_id: str
    body: str
    parts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    depth: int
    oldest_created_at: float | None


class Transaction:
    """What a planner may do inside `accept()`'s transaction."""

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self._conn = conn
        self.now = now
        self.added: list[int] = []

    def count_alerts_since(self, number: str, since: float) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE number = ? AND kind = 'alert' AND created_at > ?",
            (number, since),
        ).fetchone()
        return int(row[0])

    def summary_since(self, number: str, since: float) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM outbox WHERE number = ? AND kind = 'summary' AND created_at > ? LIMIT 1",
            (number, since),
        ).fetchone()
        return row is not None

    def was_fired(self, *, route: str, group_key: str, number: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM fired WHERE route = ? AND group_key = ? AND number = ?",
            (route, group_key, number),
        ).fetchone()
        return row is not None

    def route_fired(self, *, route: str, group_key: str) -> bool:
        """Did anyone on `route` get the FIRING of this group?"""
        row = self._conn.execute(
            "SELECT 1 FROM fired WHERE route = ? AND group_key = ? LIMIT 1", (route, group_key)
        ).fetchone()
        return row is not None

    def ended(self, group_key: str) -> set[str]:
        """Alerts (`fingerprint@startsAt`) of this group already reported resolved."""
        rows = self._conn.execute("SELECT alert FROM ended WHERE group_key = ?", (group_key,))
        return {str(r[0]) for r in rows}

    def mark_ended(self, group_key: str, alerts: set[str]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO ended (group_key, alert, at) VALUES (?, ?, ?)",
            [(group_key, alert, self.now) for alert in sorted(alerts)],
        )

    def heartbeat_state(self) -> HeartbeatState:
        row = self._conn.execute(
            "SELECT last_at, broken_at, silent_since, reminded_at FROM heartbeat WHERE id = 1"
        ).fetchone()
        if row is None:
            return HeartbeatState()
        return HeartbeatState(
            last_at=row[0], broken_at=row[1], silent_since=row[2], reminded_at=row[3]
        )

    def set_heartbeat_state(self, state: HeartbeatState) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO heartbeat (id, last_at, broken_at, silent_since, reminded_at)"
            " VALUES (1, ?, ?, ?, ?)",
            (state.last_at, state.broken_at, state.silent_since, state.reminded_at),
        )

    def add(self, message: NewMessage) -> int:
        cursor = self._conn.execute(
            "INSERT INTO outbox (created_at, next_attempt_at, kind, number, route, template,"
            " dlt_template_id, body, parts, group_key, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.now,
                self.now,
                message.kind,
                message.number,
                message.route,
                message.template,
                message.dlt_template_id,
                message.body,
                message.parts,
                message.group_key,
                message.status,
            ),
        )
        if message.kind == "alert" and message.status == "firing":
            self._conn.execute(
                "INSERT OR REPLACE INTO fired (route, group_key, number, at) VALUES (?, ?, ?, ?)",
                (message.route, message.group_key, message.number, self.now),
            )
        row_id = int(cursor.lastrowid or 0)
        self.added.append(row_id)
        return row_id


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptResult:
    duplicate: bool
    ids: tuple[int, ...]


class Outbox:
    """The SQLite outbox; see the module docstring."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open (creating if needed) and migrate; raise OutboxUnavailable."""
        with self._lock:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA journal_mode=WAL")
                # FULL makes every commit fsync the WAL: an accepted webhook survives power loss.
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            except sqlite3.Error as exc:
                raise OutboxUnavailable(f"cannot open outbox {self.path}: {exc}") from exc
            self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, action: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise OutboxUnavailable("outbox is not open")
            try:
                if not write:
                    return action(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = action(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise OutboxUnavailable(f"outbox write failed: {exc}") from exc

    def accept(
        self,
        *,
        now: float,
        dedup_key: str,
        dedup_window: float,
        plan: Callable[[Transaction], None],
    ) -> AcceptResult:
        """Atomically: drop a duplicate, or run `plan` (which adds rows) and remember the key."""

        def action(conn: sqlite3.Connection) -> AcceptResult:
            row = conn.execute("SELECT seen_at FROM dedup WHERE key = ?", (dedup_key,)).fetchone()
            if row is not None and float(row[0]) > now - dedup_window:
                return AcceptResult(duplicate=True, ids=())
            tx = Transaction(conn, now)
            plan(tx)
            conn.execute(
                "INSERT OR REPLACE INTO dedup (key, seen_at) VALUES (?, ?)", (dedup_key, now)
            )
            return AcceptResult(duplicate=False, ids=tuple(tx.added))

        return self._run(action, write=True)

    def transact(self, *, now: float, action: Callable[[Transaction], T]) -> T:
        """Run `action` in one write transaction (the dead man's switch's state changes)."""
        return self._run(lambda conn: action(Transaction(conn, now)), write=True)

    def heartbeat_state(self) -> HeartbeatState:
        """The stored heartbeat state (read-only)."""
        return self._run(lambda conn: Transaction(conn, 0.0).heartbeat_state(), write=False)

    def due(self, *, now: float, limit: int) -> list[PendingMessage]:
        """Pending rows whose next attempt is due, oldest first."""

        def action(conn: sqlite3.Connection) -> list[PendingMessage]:
            rows = conn.execute(
                "SELECT id, created_at, attempts, number, route, template, dlt_template_id,"
                " body, parts, kind FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
            return [
                PendingMessage(
                    id=r[0],
                    created_at=r[1],
                    attempts=r[2],
                    number=r[3],
                    route=r[4],
                    template=r[5],
                    dlt_template_id=r[6],
                    body=r[7],
                    parts=r[8],
                    kind=r[9],
                )
                for r in rows
            ]

        return self._run(action, write=False)

    def next_due_at(self) -> float | None:
        def action(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            return None if row[0] is None else float(row[0])

        return self._run(action, write=False)

    def mark_sent(self, message_id: int, *, now: float, gateway_ref: str) -> None:
        self._update(
            "state = 'sent', attempts = attempts + 1, done_at = ?, gateway_ref = ?,"
            " last_error = ''",
            (now, gateway_ref, message_id),
        )

    def mark_retry(self, message_id: int, *, next_attempt_at: float, error: str) -> None:
        self._update(
            "attempts = attempts + 1, next_attempt_at = ?, last_error = ?",
            (next_attempt_at, error, message_id),
        )

    def mark_dead(self, message_id: int, *, now: float, error: str, attempted: bool) -> None:
        self._update(
            "state = 'dead', attempts = attempts + ?, done_at = ?, last_error = ?",
            (1 if attempted else 0, now, error, message_id),
        )

    def _update(self, assignments: str, params: tuple[object, ...]) -> None:
        """`UPDATE outbox SET <assignments> WHERE id = ?`; the id is the last parameter."""
        sql = f"UPDATE outbox SET {assignments} WHERE id = ?"
        self._run(lambda c: c.execute(sql, params), write=True)

    def stats(self) -> QueueStats:
        def action(conn: sqlite3.Connection) -> QueueStats:
            row = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            return QueueStats(depth=int(row[0]), oldest_created_at=row[1])

        return self._run(action, write=False)

    def prune(self, *, now: float, keep_done: float, dedup_window: float, fired_keep: float) -> int:
        """Delete finished rows older than `keep_done` and expired dedup/fired/ended keys."""

        def action(conn: sqlite3.Connection) -> int:
            done = conn.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND done_at < ?", (now - keep_done,)
            ).rowcount
            conn.execute("DELETE FROM dedup WHERE seen_at < ?", (now - dedup_window,))
            conn.execute("DELETE FROM fired WHERE at < ?", (now - fired_keep,))
            conn.execute("DELETE FROM ended WHERE at < ?", (now - fired_keep,))
            return int(done)

        return self._run(action, write=True)

    def ping(self) -> None:
        """Raise OutboxUnavailable if the database cannot be read."""
        self._run(lambda c: c.execute("SELECT 1").fetchone(), write=False)
