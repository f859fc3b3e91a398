"""Which seen-store a crawl uses, for whom (GMW_SEEN_STORE, the mode): the Scrapy side of
gmwcrawler.seen, kept outside that package because it builds on the Redis store too (issue #16)."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.distributed.connection import for_crawler
from gmwcrawler.distributed.keys import Keys
from gmwcrawler.distributed.run import current_run_id
from gmwcrawler.distributed.seen import RedisSeenStore
from gmwcrawler.revisit import Revisits
from gmwcrawler.seen.base import SeenStore
from gmwcrawler.seen.memory import MemorySeenStore
from gmwcrawler.seen.sqlite import SqliteSeenStore
from gmwcrawler.state import StateDirError, state_path, where, writable_dir

logger = logging.getLogger(__name__)
KINDS = ("sqlite", "memory")


class SeenStoreError(Exception):
    """The seen-store cannot be opened: one line naming the file and the reason (issue #12)."""


def sqlite_path(settings: BaseSettings) -> Path:
    """GMW_SEEN_DB, or `seen.sqlite3` in the state directory (gmwcrawler.state)."""
    explicit = defaults.get(settings, "GMW_SEEN_DB")
    return Path(explicit) if explicit else state_path(settings, "seen.sqlite3")


def open_sqlite_store(settings: BaseSettings, run_id: str) -> SqliteSeenStore:
    """The embedded store at sqlite_path()."""
    explicit = defaults.get(settings, "GMW_SEEN_DB")
    path = sqlite_path(settings)
    hint = "GMW_SEEN_DB" if explicit else f"GMW_STATE_DIR (chosen by {where(settings)})"
    try:
        writable_dir(path.parent)
        return SqliteSeenStore(run_id, path)
    except (StateDirError, OSError, sqlite3.Error) as exc:
        raise SeenStoreError(f"seen-store (SQLite {path}) cannot start: {exc}; set {hint} to a writable place"
                             " or GMW_SEEN_STORE=memory") from None


class SeenStoreExtension:
    """Owns the crawl's seen-store; pipelines and middlewares reach it with `seen_store(crawler)`."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        kind = defaults.get(settings, "GMW_SEEN_STORE")
        run_id = uuid.uuid4().hex
        if defaults.redis_url(settings):
            redis_client, guard = for_crawler(crawler)
            keys = Keys.of(settings, crawler.spidercls.name)
            run: list[str] = []  # a worker belongs to one run: ask Redis once it has started

            def run_id_of_worker() -> str:
                if not run:
                    found = current_run_id(redis_client, guard, keys)
                    if not found:
                        return ""
                    run.append(found)
                return run[0]

            self.store = RedisSeenStore(redis_client, guard, keys, run_id_of_worker)
            place = f"Redis {guard.masked} (shared by all workers)"
        elif kind == "memory":
            self.store: SeenStore = MemorySeenStore(run_id)
            place = "memory (this run only)"
        elif kind == "sqlite":
            sqlite_store = open_sqlite_store(settings, run_id)
            self.store = sqlite_store
            place = f"SQLite {sqlite_store.path}"
        else:
            raise ValueError(f"GMW_SEEN_STORE={kind!r}: expected one of {', '.join(KINDS)}")
        if not defaults.redis_url(settings):
            crawler.stats.set_value("gmw/run/id", run_id)  # distributed runs get theirs from Redis
        self.revisits = Revisits.from_settings(self.store, settings)  # preflight has checked the schedules
        known = len(self.store)
        logger.info("Seen-store: %s, %d article(s) known%s", place, known,
                    "; stored articles are skipped (-a refresh=1 re-fetches them)" if known else "")
        crawler.stats.set_value("gmw/seen_store/known_at_start", known)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeenStoreExtension:
        return cls(crawler)

    def spider_closed(self) -> None:
        self.store.close()


def _extension(crawler: Crawler) -> SeenStoreExtension:
    ext = crawler.get_extension(SeenStoreExtension)
    if ext is None:
        raise RuntimeError("gmwcrawler.seenstore.SeenStoreExtension is not enabled in EXTENSIONS")
    return ext


def seen_store(crawler: Crawler) -> SeenStore:
    return _extension(crawler).store


def revisits(crawler: Crawler) -> Revisits:
    """When known pages are asked again (gmwcrawler.revisit), over this crawl's seen-store."""
    return _extension(crawler).revisits
