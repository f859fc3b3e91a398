"""Which seen-store a crawl uses, for whom (GMW_SEEN_STORE, the mode): the Scrapy side of
gmwcrawler.incremental.store, apart from it because it builds on the Redis store too; the deliveries
confirmed after the sinks, and the backlog of promised requests."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.url import url_is_from_any_domain
from twisted.internet import task

from gmwcrawler import defaults
from gmwcrawler.distributed.connection import for_crawler
from gmwcrawler.distributed.keys import Keys
from gmwcrawler.distributed.run import current_run_id
from gmwcrawler.distributed.store import RedisSeenStore
from gmwcrawler.incremental.identity import identity_key
from gmwcrawler.incremental.revisit import Revisits
from gmwcrawler.incremental.store.base import BacklogEntry, SeenStore, StoreUnavailable
from gmwcrawler.incremental.store.memory import MemorySeenStore
from gmwcrawler.incremental.store.sqlite import SqliteSeenStore
from gmwcrawler.meta import BACKLOG_META
from gmwcrawler.state import StateDirError, state_path, where, writable_dir

logger = logging.getLogger(__name__)
KINDS = ("sqlite", "memory")


class SeenStoreError(Exception):
    """The seen-store cannot be opened: one line naming the file and the reason."""


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


class Deliveries:
    """Acknowledge after the store, and remember what is promised (tests/test_interrupted.py).

    - An item reaches Scrapy's item_scraped only after every pipeline, the sinks included, has it (the
      PostgreSQL pipeline's process_item returns on commit; a local feed file is written through per item
      by gmwcrawler.feeds). Only then is its seen-store row marked delivered: an article decided but never
      delivered (the process was killed) is fetched and delivered again by the next run.
    - Every article request a listing or 相关阅读 leads to, and every next listing page, goes on the
      backlog before it is queued, and comes off once it has an outcome (delivered, dropped, failed for
      good, already stored). The next run asks the backlog first, whatever the listing stop decides.

    Confirmations are written in groups every CONFIRM_INTERVAL seconds and at the end of the run: a
    process killed in between delivers those items once more (at least once in the feeds; PostgreSQL
    upserts them to the same row and version).
    """

    CONFIRM_INTERVAL = 0.5  # seconds; what a kill -9 can make the next run fetch and deliver again

    def __init__(self, crawler: Crawler, store: SeenStore) -> None:
        self.crawler = crawler
        self.store = store
        self.enabled = store.keeps_backlog  # the Redis store: the shared queue and its leases keep the backlog
        self.delivered: set[str] = set()
        self.resolved: set[str] = set()
        self.attempted: set[str] = set()
        self.waiting = False  # confirmations wait for the store (a Redis outage)
        self.at_start = self.store.backlog() if self.enabled else []
        crawler.stats.set_value("gmw/backlog/at_start", len(self.at_start))
        if self.at_start:
            logger.info("Backlog: %d request(s) promised by an earlier run that did not finish; asked first",
                        len(self.at_start))
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        if self.enabled:
            crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
            crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)
            crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)

    def spider_opened(self) -> None:
        self.loop = task.LoopingCall(self.flush)
        self.loop.start(self.CONFIRM_INTERVAL, now=False)

    # -- what the spider promises and what became of it --------------------------------------------
    def promise(self, entries: list[BacklogEntry]) -> None:
        if self.enabled and entries:
            self._call(self.store.add_backlog, entries)
            self.crawler.stats.inc_value("gmw/backlog/added", len(entries))

    def attempt(self, request: Request) -> None:
        key = request.meta.get(BACKLOG_META)
        if key:
            self.attempted.add(key)

    def resolve(self, request: Request) -> None:
        """The request has its outcome (the item's delivery says so itself)."""
        key = request.meta.get(BACKLOG_META)
        if key and self.enabled:
            self.attempted.add(key)
            self.resolved.add(key)

    def item_scraped(self, item: Any, response: Any) -> None:
        key = identity_key(ItemAdapter(item)["url"])
        self.delivered.add(key)
        if self.enabled:
            self.resolved.add(key)
        request = getattr(response, "request", None)  # a Response, or the Failure of an errback
        if request is not None:
            self.resolve(request)

    def item_dropped(self, item: Any, response: Any) -> None:
        # a drop is final (a duplicate, unchanged, an article with no body): no sink will have it
        url = ItemAdapter(item).get("url")
        if url:
            self.resolved.add(identity_key(url))
        request = getattr(response, "request", None)
        if request is not None:
            self.resolve(request)

    def request_dropped(self, request: Request) -> None:
        """The scheduler refused it (the dupe filter): another request for the URL gives the outcome; for a
        redirect whose target was asked already, that is the redirect's outcome."""
        self.attempt(request)
        if request.meta.get("redirect_urls"):
            self.resolve(request)

    def request_scheduled(self, request: Request, spider: Any) -> None:
        # A redirect off the allowed domains is dropped by Scrapy's offsite middleware in this same signal,
        # with no errback and no request_dropped (scrapy/core/engine.py): its outcome, for good (the
        # replica's redirect_offsite page).
        domains = getattr(spider, "allowed_domains", None)
        if request.meta.get("redirect_urls") and domains and not url_is_from_any_domain(request.url, domains):
            self.resolve(request)

    def flush(self) -> None:
        if not (self.delivered or self.resolved):
            return
        delivered, resolved = self.delivered, self.resolved
        self.delivered, self.resolved = set(), set()
        if not self._call(self.store.confirm, delivered, resolved):
            self.delivered |= delivered  # the store paused: the next flush tries again
            self.resolved |= resolved

    def _call(self, write: Any, *args: Any) -> bool:
        try:
            write(*args)
        except StoreUnavailable as exc:
            if not self.waiting:  # once per outage: the next flush tries again every CONFIRM_INTERVAL
                logger.warning("Seen-store unavailable, delivery confirmations wait: %s", exc)
            self.waiting = True
            return False
        self.waiting = False
        return True

    def close(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.flush()
        if not self.enabled:
            return
        left = self.store.backlog()
        not_attempted = [e for e in left if e.key not in self.attempted]
        stats = self.crawler.stats
        stats.set_value("gmw/backlog/at_end", len(left))
        stats.set_value("gmw/backlog/not_attempted", len(not_attempted))
        if left:
            logger.info("Backlog at the end: %d request(s) without an outcome (%d not attempted by this run%s); the"
                        " next run asks them first", len(left), len(not_attempted),
                        ": " + ", ".join(e.url for e in not_attempted[:5]) if not_attempted else "")


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

            self.store = RedisSeenStore(redis_client, guard, keys, run_id_of_worker,
                                        defaults.get(settings, "GMW_REDIS_ITEMS_KEEP"))
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
        self.deliveries = Deliveries(crawler, self.store)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeenStoreExtension:
        return cls(crawler)

    def spider_closed(self) -> None:
        self.deliveries.close()
        self.store.close()


def _extension(crawler: Crawler) -> SeenStoreExtension:
    ext = crawler.get_extension(SeenStoreExtension)
    if ext is None:
        raise RuntimeError("gmwcrawler.incremental.crawl_store.SeenStoreExtension is not enabled in EXTENSIONS")
    return ext


def seen_store(crawler: Crawler) -> SeenStore:
    return _extension(crawler).store


def deliveries(crawler: Crawler) -> Deliveries:
    """What the crawl has promised and what reached the sinks (Deliveries), for this crawl."""
    return _extension(crawler).deliveries


def revisits(crawler: Crawler) -> Revisits:
    """When known pages are asked again (gmwcrawler.incremental.revisit), over this crawl's seen-store."""
    return _extension(crawler).revisits
