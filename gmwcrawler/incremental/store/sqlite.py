from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from .base import BacklogEntry, FailedFetch, LocalSeenStore, Record, StoredInfo, Validators, _Row

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    signature BLOB NOT NULL,
    publish_time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    duplicate_of TEXT,
    alt_urls TEXT NOT NULL DEFAULT '[]',
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_content_hash ON articles (content_hash) WHERE duplicate_of IS NULL;
CREATE TABLE IF NOT EXISTS bands (band TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (band, key)) WITHOUT ROWID;
-- every body an original has had, and the first original to have it (as the memory and Redis stores keep them)
CREATE TABLE IF NOT EXISTS contents (content_hash TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failed (
    key TEXT PRIMARY KEY, url TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
    retry_at REAL NOT NULL, run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, entries TEXT, next_url TEXT, stored_at REAL NOT NULL
);
-- requests promised and not finished (seen.base.BacklogEntry): what the next run asks first
CREATE TABLE IF NOT EXISTS backlog (
    key TEXT PRIMARY KEY, url TEXT NOT NULL, run_id TEXT NOT NULL, list_page INTEGER NOT NULL DEFAULT 0,
    depth INTEGER NOT NULL DEFAULT 0, listed_at TEXT, added_at REAL NOT NULL
);
"""
# columns added since (ALTER TABLE on open): revisits, then delivery (a row written before it was delivered)
_ADDED = {"revision": "TEXT", "fields": "TEXT", "version": "INTEGER NOT NULL DEFAULT 1", "first_stored": "REAL",
          "refresh_step": "INTEGER NOT NULL DEFAULT 0", "delivered": "INTEGER NOT NULL DEFAULT 1", "changed": "TEXT"}
_COLUMNS = "key, url, content_hash, signature, run_id, duplicate_of, revision, fields, version, delivered, changed"


class SqliteSeenStore(LocalSeenStore):
    """The embedded default: one SQLite file that survives restarts (WAL, one writer at a time)."""

    def __init__(self, run_id: str, path: str | Path) -> None:
        super().__init__(run_id)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        had_contents = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'contents'").fetchone()
        self._db.executescript(SCHEMA)
        if not had_contents:  # a store written before that table: its originals' current bodies
            self._db.execute("INSERT OR IGNORE INTO contents SELECT content_hash, key FROM articles"
                             " WHERE duplicate_of IS NULL ORDER BY stored_at")
        have = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
        for column, kind in _ADDED.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE articles ADD COLUMN {column} {kind}")

    @contextmanager
    def transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _row(self, found) -> _Row | None:
        if not found:
            return None
        *head, fields, version, delivered, changed = found
        return _Row(*head, json.loads(fields) if fields else None, version, bool(delivered),
                    json.loads(changed) if changed else None)

    def _get(self, key: str) -> _Row | None:
        return self._row(self._db.execute(f"SELECT {_COLUMNS} FROM articles WHERE key = ?", (key,)).fetchone())

    def _find_content(self, content_hash: str) -> _Row | None:
        return self._row(self._db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE key = (SELECT key FROM contents WHERE content_hash = ?)",
            (content_hash,)).fetchone())

    def _band_candidates(self, bands: list[str]) -> list[_Row]:
        marks = ",".join("?" * len(bands))
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE duplicate_of IS NULL AND key IN "
            f"(SELECT DISTINCT key FROM bands WHERE band IN ({marks})) ORDER BY key", bands
        ).fetchall()
        return [self._row(r) for r in rows]

    def _put(self, record: Record, duplicate_of: str | None, version: int = 1, changed: list[str] | None = None) -> None:
        now = time.time()
        self._db.execute(
            "INSERT INTO articles (key, url, content_hash, signature, publish_time, run_id, duplicate_of, stored_at,"
            " revision, fields, version, first_stored, delivered, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET url = excluded.url,"
            " content_hash = excluded.content_hash, signature = excluded.signature, publish_time = excluded.publish_time,"
            " run_id = excluded.run_id, duplicate_of = excluded.duplicate_of, stored_at = excluded.stored_at,"
            " revision = excluded.revision, fields = excluded.fields, version = excluded.version,"
            " delivered = excluded.delivered, changed = excluded.changed",
            (record.key, record.url, record.content_hash, record.signature.to_bytes(), record.publish_time,
             self.run_id, duplicate_of, now, record.revision or None, json.dumps(record.fields) if record.fields else None,
             version, now, int(duplicate_of is not None), json.dumps(changed) if changed is not None else None),
        )
        if duplicate_of is None:  # an update keeps the earlier version's bands and body, as Redis does
            self._db.execute("INSERT OR IGNORE INTO contents (content_hash, key) VALUES (?, ?)",
                             (record.content_hash, record.key))
            self._db.executemany("INSERT OR IGNORE INTO bands (band, key) VALUES (?, ?)",
                                 [(band, record.key) for band in record.signature.bands()])

    def _add_alt_url(self, key: str, url: str) -> None:
        urls = self.alt_urls(key)
        if url not in urls:
            self._db.execute("UPDATE articles SET alt_urls = ? WHERE key = ?", (json.dumps(urls + [url]), key))

    def alt_urls(self, key: str) -> list[str]:
        found = self._db.execute("SELECT alt_urls FROM articles WHERE key = ?", (key,)).fetchone()
        return json.loads(found[0]) if found else []

    def stored(self, key: str) -> StoredInfo | None:
        found = self._db.execute(
            "SELECT key, url, publish_time, duplicate_of, run_id, first_stored, refresh_step, delivered FROM articles"
            " WHERE key = ?", (key,)).fetchone()
        return StoredInfo(*found[:4], found[4] == self.run_id, found[5], found[6], bool(found[7])) if found else None

    def mark_refreshed(self, key: str, step: int) -> None:
        self._db.execute("UPDATE articles SET refresh_step = ? WHERE key = ?", (step, key))

    def failed(self, key: str) -> FailedFetch | None:
        found = self._db.execute("SELECT key, url, reason, count, retry_at, run_id FROM failed WHERE key = ?",
                                 (key,)).fetchone()
        return FailedFetch(*found) if found else None

    def put_failed(self, failed: FailedFetch) -> None:
        self._db.execute("INSERT OR REPLACE INTO failed (key, url, reason, count, retry_at, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                         (failed.key, failed.url, failed.reason, failed.count, failed.retry_at, failed.run_id))

    def validators(self, url: str) -> Validators | None:
        found = self._db.execute("SELECT etag, last_modified, entries, next_url FROM validators WHERE url = ?",
                                 (url,)).fetchone()
        if not found:
            return None
        return Validators(found[0], found[1], json.loads(found[2]) if found[2] is not None else None, found[3])

    def put_validators(self, url: str, validators: Validators) -> None:
        entries = json.dumps(validators.entries) if validators.entries is not None else None
        self._db.execute("INSERT OR REPLACE INTO validators (url, etag, last_modified, entries, next_url, stored_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (url, validators.etag, validators.last_modified, entries, validators.next_url, time.time()))

    keeps_backlog = True

    def confirm(self, delivered: Iterable[str], resolved: Iterable[str]) -> None:
        with self.transaction():
            self._db.executemany("UPDATE articles SET delivered = 1, changed = NULL WHERE key = ? AND delivered = 0",
                                 [(key,) for key in delivered])
            self._db.executemany("DELETE FROM backlog WHERE key = ?", [(key,) for key in resolved])

    def add_backlog(self, entries: Iterable[BacklogEntry]) -> None:
        now = time.time()
        with self.transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO backlog (key, url, run_id, list_page, depth, listed_at, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(e.key, e.url, e.run_id, e.list_page, e.depth, e.listed_at, now) for e in entries])

    def backlog(self) -> list[BacklogEntry]:
        return [BacklogEntry(*row) for row in self._db.execute(
            "SELECT key, url, run_id, list_page, depth, listed_at FROM backlog ORDER BY added_at, key")]

    def backlogged_before(self, key: str) -> bool:
        found = self._db.execute("SELECT run_id FROM backlog WHERE key = ?", (key,)).fetchone()
        return found is not None and found[0] != self.run_id

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM articles WHERE duplicate_of IS NULL").fetchone()[0]

    def close(self) -> None:
        self._db.close()
