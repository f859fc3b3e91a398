"""Store: PostgreSQL sink, switched on by GMW_POSTGRES_DSN.

One row per article, upserted on its identity key (the seen-store's: gmwcrawler.incremental.identity) in batches; a
re-crawled article of which a field of identity.REVISION_FIELDS changed gets version + 1 and a new updated_at,
and every version is kept in gmw_article_versions (`scrapy gmw history` shows the diff). The schema is created
by gmwcrawler.postgres.database.migrate. A batch that cannot be written after one reconnect is
appended to GMW_POSTGRES_FALLBACK as JSON Lines, never silently lost.

Group commit: `process_item` returns once the item's batch is committed (or, with PostgreSQL
unreachable, written to the fallback file), so an item counts as scraped — the feeds write it, the
seen-store marks it delivered, a Redis lease is acknowledged — only after it is durable here. Before, rows
waited in memory while the crawl had already forgotten them, and a killed worker took up to a batch with it
(tests/test_interrupted.py). A batch is written when full or GMW_POSTGRES_FLUSH_INTERVAL after its first row,
in a thread, one batch at a time on one connection. A batch sent again after a crash changes nothing: rows are
upserted on the identity key and a version is added only where the revision changed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from gmwcrawler import defaults
from gmwcrawler.incremental.identity import REVISION_FIELDS, content_hash, field_hashes, identity_key, revision_hash
from gmwcrawler.items import columns
from gmwcrawler.pipelines.drops import ItemDropped
from gmwcrawler.redact import mask_url
from gmwcrawler.state import state_path

from .database import MigrationRefused, connect, migrate

if TYPE_CHECKING:
    import psycopg
# psycopg is imported where a DSN is set: every crawl loads this module, few write to PostgreSQL,
# and the import is 120 ms of start-up (bench/README.md).

logger = logging.getLogger(__name__)
# the item's fields that are columns (gmwcrawler.items), with the keys and hashes the sink computes
_ITEM_COLUMNS = columns()
COLUMNS = ("identity_key", *_ITEM_COLUMNS, "content_hash", "revision")
_JSON = {name for name, kind in _ITEM_COLUMNS.items() if kind == "json"}
_LISTS = {name for name, kind in _ITEM_COLUMNS.items() if kind == "list"}


def _empty(column: str) -> Any:
    """A column's value where the item (or a fallback line of an earlier version) has none."""
    return {} if column == "provenance" else []
UPSERT = (
    f"INSERT INTO gmw_articles ({', '.join(COLUMNS)}) VALUES ({', '.join('%s' for _ in COLUMNS)}) "
    "ON CONFLICT (identity_key) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in ("identity_key", "alt_urls"))
    + ", alt_urls = ARRAY(SELECT DISTINCT unnest(gmw_articles.alt_urls || EXCLUDED.alt_urls))"
    ", version = gmw_articles.version + 1, updated_at = now() "
    # rows written before revisions were kept (revision NULL): their body is what was compared
    "WHERE CASE WHEN gmw_articles.revision IS NULL THEN gmw_articles.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
    " ELSE gmw_articles.revision IS DISTINCT FROM EXCLUDED.revision END "
    # never an older fetch over a newer one (a fallback file replayed after later crawls)
    "AND gmw_articles.crawled_at <= EXCLUDED.crawled_at "
    "RETURNING version"
)
ADD_VERSION = ("INSERT INTO gmw_article_versions (identity_key, article_id, version, fetched_at, title, content,"
               " content_hash, changed_fields, fields) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
# kept in gmw_article_versions.fields: the revision fields that are not columns of their own there
_VERSION_FIELDS = tuple(f for f in REVISION_FIELDS if f not in ("title", "content"))
ADD_ALT_URL = ("UPDATE gmw_articles SET alt_urls = array_append(alt_urls, %s) "
               "WHERE identity_key = %s AND NOT (%s = ANY(alt_urls))")


def fallback_path(settings: BaseSettings) -> Path:
    """GMW_POSTGRES_FALLBACK, or `postgres-unwritten.jsonl` in the state directory."""
    return Path(defaults.get(settings, "GMW_POSTGRES_FALLBACK") or state_path(settings, "postgres-unwritten.jsonl"))


class PostgresPipeline:
    def __init__(self, crawler: Crawler, dsn: str) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.dsn = dsn
        self.batch_size = max(1, defaults.get(settings, "GMW_POSTGRES_BATCH_SIZE"))
        self.flush_interval = defaults.get(settings, "GMW_POSTGRES_FLUSH_INTERVAL")
        self.timeout = defaults.get(settings, "GMW_POSTGRES_CONNECT_TIMEOUT")
        self.statement_timeout = defaults.get(settings, "GMW_POSTGRES_STATEMENT_TIMEOUT")
        self.fallback = fallback_path(settings)
        self.batch = _Batch()
        self.conn: psycopg.Connection | None = None
        self._timer: CallLaterResult | None = None  # the current batch's flush
        self._writing = DeferredLock()  # one batch at a time on the one connection
        from psycopg.types.json import Jsonb

        self.jsonb = Jsonb
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PostgresPipeline:
        dsn = defaults.get(crawler.settings, "GMW_POSTGRES_DSN")
        if not dsn:
            raise NotConfigured  # no message: Scrapy would log a warning on every run
        return cls(crawler, dsn)

    def open_spider(self) -> None:
        import psycopg

        try:
            self.conn = connect(self.dsn, self.timeout, self.statement_timeout)
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"cannot connect to PostgreSQL at {mask_url(self.dsn)}: {str(exc).strip()}") from None
        try:
            applied = migrate(self.conn)
        except MigrationRefused as exc:
            raise RuntimeError(str(exc)) from None
        logger.info("PostgreSQL sink: %s%s", mask_url(self.dsn), f", applied {', '.join(applied)}" if applied else "")

    # -- the Scrapy side: on the reactor thread ---------------------------------------------------------
    async def process_item(self, item: Any) -> Any:
        """The item, once its row is durable (committed, or in the fallback file)."""
        self.add(item)
        done: Deferred = Deferred()
        self.batch.waiting.append(done)
        if len(self.batch.rows) >= self.batch_size:
            self._write_in_thread()
        elif self._timer is None:
            self._timer = call_later(self.flush_interval, self._write_in_thread)
        await maybe_deferred_to_future(done)
        return item

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any = None) -> None:
        if isinstance(exception, ItemDropped) and exception.facts.get("kept_key") and exception.url:
            self.batch.alt_urls.append((exception.url, exception.facts["kept_key"]))

    def _write_in_thread(self) -> Deferred:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self.batch = self.batch, _Batch()
        written = self._writing.run(deferToThread, self.write, batch)

        def tell(result: Any) -> None:
            for waiting in batch.waiting:
                if isinstance(result, Failure):  # an item error for each: not delivered, fetched again next run
                    waiting.errback(result)
                else:
                    waiting.callback(None)

        return written.addBoth(tell)

    async def close_spider(self) -> None:
        await maybe_deferred_to_future(self._write_in_thread())
        await maybe_deferred_to_future(self._writing.run(deferToThread, self.close))

    # -- the database side: plain calls (a thread of the pipeline's, or a test) --------------------------
    def add(self, item: Any) -> None:
        adapter = ItemAdapter(item)
        computed = {"identity_key": identity_key(adapter["url"]), "content_hash": content_hash(adapter["content"]),
                    "revision": revision_hash(field_hashes(adapter))}
        values = []
        for column in COLUMNS:
            value = computed[column] if column in computed else adapter.get(column)
            if column in _JSON:
                value = self.jsonb(value or _empty(column))
            elif column in _LISTS:
                value = list(value or [])
            values.append(value)
        self.batch.rows.append(tuple(values))
        self.batch.versions.append((computed["identity_key"], adapter["article_id"], adapter["crawled_at"], adapter["title"],
                                    adapter["content"], computed["content_hash"], list(adapter.get("changed_fields") or []),
                                    self.jsonb({f: adapter.get(f) for f in _VERSION_FIELDS})))

    def flush(self) -> None:
        """Write what was added, now, on this thread."""
        batch, self.batch = self.batch, _Batch()
        self.write(batch)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def write(self, batch: _Batch) -> None:
        """Commit the batch (one reconnect), or append it to the fallback file; raises OSError only where
        neither is possible, and then its items are not delivered (the next run fetches them again)."""
        import psycopg

        if not batch.rows and not batch.alt_urls:
            return
        for attempt in (1, 2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = connect(self.dsn, self.timeout, self.statement_timeout)
                self._write(batch)
                return
            except psycopg.Error as exc:
                logger.warning("PostgreSQL write of %d row(s) failed (attempt %d): %s", len(batch.rows), attempt,
                               str(exc).strip())
                if self.conn is not None and not self.conn.closed:
                    self.conn.close()
                self.conn = None
        self.stats.inc_value("gmw/postgres/unwritten", len(batch.rows))
        self.fallback.parent.mkdir(parents=True, exist_ok=True)
        with self.fallback.open("a", encoding="utf-8") as out:
            out.writelines(batch.to_lines())
            out.flush()
            os.fsync(out.fileno())  # the items count as delivered once this returns
        logger.error("PostgreSQL unreachable: %d row(s) appended to %s; `scrapy gmw replay` loads them", len(batch.rows),
                     self.fallback)

    def _write(self, batch: _Batch) -> None:
        assert self.conn is not None
        counts = write_batch(self.conn, batch)
        for outcome, n in counts.items():
            self.stats.inc_value(f"gmw/postgres/{outcome}", n)
        self.stats.inc_value("gmw/postgres/batches")


def write_batch(conn: psycopg.Connection, batch: _Batch) -> dict[str, int]:
    """Upsert the batch's rows, add the versions whose revision changed, append the alt URLs: one transaction,
    and the same batch written twice changes nothing the second time. Returns the rows inserted, updated and
    unchanged."""
    with conn.transaction(), conn.cursor() as cur:
        inserted = updated = 0
        if batch.rows:
            cur.executemany(UPSERT, batch.rows, returning=True)
            written: list[tuple] = []
            for kept in batch.versions:  # one result per row, in order: empty where the row was unchanged
                for (version,) in cur.fetchall():
                    inserted += version == 1
                    updated += version > 1
                    key, article_id, fetched_at, title, content, body_hash, changed, fields = kept
                    written.append((key, article_id, version, fetched_at, title, content, body_hash,
                                    changed if version > 1 else [], fields))
                cur.nextset()
            if written:
                cur.executemany(ADD_VERSION, written)
        if batch.alt_urls:
            cur.executemany(ADD_ALT_URL, [(url, key, url) for url, key in batch.alt_urls])
    return {"inserted": inserted, "updated": updated, "unchanged": len(batch.rows) - inserted - updated}


def replay(dsn: str, path: Path, timeout: int = 5) -> tuple[int, int, Path]:
    """Load a fallback file into PostgreSQL (`scrapy gmw replay`): its rows, versions and alt URLs, as the
    pipeline would have written them; loading it twice changes nothing. The file is renamed once loaded.
    Returns the rows and alt URLs read and the file's new name."""
    from psycopg.types.json import Jsonb

    with path.open(encoding="utf-8") as lines:
        batch = _Batch.from_lines(lines, Jsonb)
    with connect(dsn, timeout) as conn:
        migrate(conn)
        write_batch(conn, batch)
    done = path.with_name(f"{path.name}.replayed-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    path.rename(done)
    return len(batch.rows), len(batch.alt_urls), done


@dataclass
class _Batch:
    rows: list[tuple] = field(default_factory=list)
    versions: list[tuple] = field(default_factory=list)  # per row: what gmw_article_versions keeps of it, less its version
    alt_urls: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[Deferred] = field(default_factory=list)  # one per item, fired once the batch is durable

    def to_lines(self) -> list[str]:
        """The fallback file's JSON Lines: a row with what gmw_article_versions keeps of it, or an alt URL."""
        def dump(value: dict) -> str:
            return json.dumps(value, default=lambda v: getattr(v, "obj", str(v)), ensure_ascii=False) + "\n"

        lines = [dump({"row": dict(zip(COLUMNS, row)), "version": list(version)})
                 for row, version in zip(self.rows, self.versions, strict=True)]
        return lines + [dump({"alt_url": url, "identity_key": key}) for url, key in self.alt_urls]

    @classmethod
    def from_lines(cls, lines: Iterable[str], jsonb: Any) -> _Batch:
        batch = cls()
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            if "alt_url" in entry:
                batch.alt_urls.append((entry["alt_url"], entry["identity_key"]))
                continue
            # a line of an earlier version holds the row alone, and no version
            row = entry.get("row", entry)
            if "identity_key" not in row:
                row["identity_key"] = identity_key(row["url"])
            batch.rows.append(tuple(jsonb(row.get(c) or _empty(c)) if c in _JSON else (row.get(c) or [])
                                    if c in _LISTS else row.get(c) for c in COLUMNS))
            version = entry.get("version") or [row["identity_key"], row["article_id"], row["crawled_at"], row["title"],
                                               row["content"], row["content_hash"], [], {}]
            batch.versions.append((*version[:7], jsonb(version[7])))
        return batch
