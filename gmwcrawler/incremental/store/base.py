from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from gmwcrawler.incremental.identity import Signature, changed_fields

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The seen-store cannot be reached (distributed mode: Redis gone for good)."""


class StorePaused(StoreUnavailable):
    """The seen-store cannot be reached for now (a Redis outage): `resumed` is a Deferred that fires
    when it is back, or fails with StoreUnavailable once it is given up. Code that can wait (an async
    pipeline or middleware) waits on it and tries again; code that cannot treats it as not knowing."""

    def __init__(self, message: str, resumed: Callable[[], Deferred]) -> None:
        super().__init__(message)
        self.resumed = resumed  # a new Deferred per call: one nobody waits on is never left failed

    async def wait(self) -> None:
        """Until the store is back, or given up (the next call says which)."""
        try:
            await maybe_deferred_to_future(self.resumed())
        except StoreUnavailable:
            pass


class Verdict(enum.Enum):
    NEW = "new"
    UPDATED = "updated"  # stored by an earlier run, content changed since
    UNCHANGED = "unchanged"  # stored by an earlier run, same content
    DUPLICATE_URL = "duplicate_url"  # the same article under another URL in this run
    DUPLICATE_CONTENT = "duplicate_content"  # another article with the same body
    NEAR_DUPLICATE = "near_duplicate"  # another article with almost the same body

    @property
    def keeps_item(self) -> bool:
        return self in (Verdict.NEW, Verdict.UPDATED)


async def when_back(paused: StorePaused, call: Callable[[], T]) -> T:
    """`call` once the store is back from the pause (again, for as long as it pauses again)."""
    while True:
        await paused.wait()
        try:
            return call()
        except StorePaused as again:
            paused = again


def now_or_when_back(call: Callable[[], T], on_pause: Callable[[], None] | None = None) -> T | Coroutine[Any, Any, T]:
    """`call()`, or through a seen-store pause (a Redis outage) a coroutine that calls it once the store is
    back: what a pipeline or downloader middleware returns, so that nothing holds up the reactor."""
    try:
        return call()
    except StorePaused as paused:
        if on_pause is not None:
            on_pause()
        return when_back(paused, call)


@dataclass(frozen=True)
class Record:
    key: str
    url: str
    content_hash: str
    signature: Signature
    publish_time: str  # ISO 8601
    fields: dict[str, str] = field(default_factory=dict)  # identity.field_hashes
    revision: str = ""  # identity.revision_hash of fields; "" = compare the body only


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    kept_key: str | None = None
    kept_url: str | None = None
    similarity: float | None = None
    alt_urls: list[str] | None = None  # of a kept item, where the store answered them with the verdict
    version: int | None = None  # of a kept item: 1 when new, +1 for every update
    changed_fields: list[str] | None = None  # of an update


@dataclass(frozen=True)
class StoredInfo:
    key: str
    url: str
    publish_time: str
    duplicate_of: str | None
    this_run: bool  # stored by the current run (not by an earlier one)
    first_stored: float | None = None  # epoch seconds; None: stored before the store kept it
    refresh_step: int = 0  # steps of GMW_REFRESH_SCHEDULE done (gmwcrawler.incremental.revisit)
    delivered: bool = True  # False: decided, but the sinks never confirmed it (the run was killed first)


@dataclass(frozen=True)
class FailedFetch:
    """An article that failed for good (404, soft 404, unreadable…): asked again at retry_at."""

    key: str
    url: str
    reason: str
    count: int  # runs in which it failed
    retry_at: float  # epoch seconds
    run_id: str


@dataclass(frozen=True)
class Validators:
    """What a page's last 200 said of its version (ETag, Last-Modified) and, for a listing, the
    article URLs and next page it held then (written in the same step); entries None: an article."""

    etag: str | None = None
    last_modified: str | None = None
    entries: list[str] | None = None
    next_url: str | None = None  # a listing's 下一页 then


@dataclass(frozen=True)
class BacklogEntry:
    """A request the crawl has promised itself and not finished: an article a listing or 相关阅读 led to, or
    the next page of a listing. Kept until it has an outcome, so that a run stopped midway (Ctrl-C, kill -9,
    a reboot) is finished by the next one (tests/test_interrupted.py)."""

    key: str  # an article's identity key, or LISTING + the listing page's URL
    url: str
    run_id: str  # the run that first promised it
    list_page: int = 0  # of a listing page
    depth: int = 0  # of an article: hops from a listing (0 listed, 1 相关阅读 of a listed one…)
    listed_at: str | None = None  # of a listed article: when its listing was read

    LISTING = "listing:"

    @property
    def is_listing(self) -> bool:
        return self.key.startswith(self.LISTING)


@dataclass(frozen=True)
class _Row:
    key: str
    url: str
    content_hash: str
    signature: bytes
    run_id: str
    duplicate_of: str | None
    revision: str | None = None
    fields: dict[str, str] | None = None
    version: int = 1
    delivered: bool = True  # an original decided kept: False until the sinks have it (confirm())
    changed: list[str] | None = None  # of an undelivered update: its changed fields, given again on redelivery


class SeenStore(ABC):
    """What the pipelines and the incremental middleware need of a seen-store."""

    stores_items = False  # True where decide() also stores the kept item (Redis)

    @abstractmethod
    def decide(self, record: Record, near_threshold: float | None, item_json: str | None = None,
               kept_here: bool = True, refresh: bool = False) -> Decision:
        """Decide and record in one atomic step; where the store holds items too (Redis), a kept
        item's JSON is stored in that same step. `kept_here`: this process kept the article earlier in
        this run, so an undelivered mark of this run is its own delivery in flight (a duplicate), not
        a dead worker's (delivered again). A local store is one process: it is always so there.
        `refresh`: the page was fetched for a refresh step, so an article this run stored and delivered is
        compared as a revision (unchanged or updated), not taken for a second path to it (a watching run
        lives for days: tests/test_watch_cluster.py)."""

    @abstractmethod
    def alt_urls(self, key: str) -> list[str]: ...

    @abstractmethod
    def stored(self, key: str) -> StoredInfo | None: ...

    @abstractmethod
    def __len__(self) -> int:
        """Articles held: the originals, not the URLs found to duplicate one (as Redis counts its NEW decisions)."""

    # -- revisits: refresh steps, failed fetches, HTTP validators ----------------
    @abstractmethod
    def current_run(self) -> str:
        """The id of the run this store records for ("" before a distributed run has started)."""

    @abstractmethod
    def mark_refreshed(self, key: str, step: int) -> None: ...

    @abstractmethod
    def failed(self, key: str) -> FailedFetch | None: ...

    @abstractmethod
    def put_failed(self, failed: FailedFetch) -> None: ...

    @abstractmethod
    def validators(self, url: str) -> Validators | None: ...

    @abstractmethod
    def put_validators(self, url: str, validators: Validators) -> None:
        """Replace what is known of url (a new 200 forgets the entries of the old version)."""

    # -- delivery and the backlog --------------------------------------------------------------
    # A kept item is decided (and so known to this run at once: a second path to it is a duplicate), but
    # only counts as stored for later runs once every sink has it: `confirm()`, called after Scrapy's
    # item_scraped. The Redis store keeps neither: there the shared queue's leases do this work.
    keeps_backlog = False

    def confirm(self, delivered: Iterable[str], resolved: Iterable[str]) -> None:
        """Mark the articles `delivered` as in every sink, and take the backlog keys `resolved` off the
        backlog, in one step."""

    def add_backlog(self, entries: Iterable[BacklogEntry]) -> None:
        """Remember requests promised; an entry already there keeps its earlier run."""

    def backlog(self) -> list[BacklogEntry]:
        return []

    def backlogged_before(self, key: str) -> bool:
        """In the backlog since an earlier run: the backlog will ask it, the listing need not be read for it."""
        return False

    def close(self) -> None:
        pass


class LocalSeenStore(SeenStore):
    """The decision logic over a few primitives each local store implements inside `transaction()`."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def current_run(self) -> str:
        return self.run_id

    # -- primitives -----------------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def _get(self, key: str) -> _Row | None: ...

    @abstractmethod
    def _find_content(self, content_hash: str) -> _Row | None:
        """The first original (not an alias) to have had this content hash, in any of its versions: a copy
        of an article's earlier version is still its duplicate (as in Redis, whose index is never rewritten)."""

    @abstractmethod
    def _band_candidates(self, bands: list[str]) -> list[_Row]:
        """Originals that have had at least one of these LSH bands, in any version (compared by their current
        signature)."""

    @abstractmethod
    def _put(self, record: Record, duplicate_of: str | None, version: int = 1, changed: list[str] | None = None) -> None:
        """Insert or replace the row of record.key (and its bands when it is an original); the
        time it was first stored and its refresh steps stay. An original is put undelivered (with the
        changed fields of its update), an alias delivered: its drop is final."""

    @abstractmethod
    def _add_alt_url(self, key: str, url: str) -> None: ...

    # -- the decision -----------------------------------------------------------------------
    def decide(self, record: Record, near_threshold: float | None, item_json: str | None = None,
               kept_here: bool = True, refresh: bool = False) -> Decision:
        with self.transaction():
            existing = self._get(record.key)
            if existing is not None:
                kept_key = existing.duplicate_of or existing.key
                if existing.duplicate_of:
                    kept = self._get(existing.duplicate_of)
                    return Decision(Verdict.DUPLICATE_CONTENT, kept_key, kept.url if kept else None)
                if existing.run_id == self.run_id and not (refresh and existing.delivered):
                    return Decision(Verdict.DUPLICATE_URL, kept_key, existing.url)
                if not existing.delivered:
                    return self._redeliver(existing, record)
                if _same_version(existing, record):
                    return Decision(Verdict.UNCHANGED, kept_key, existing.url)
                version = existing.version + 1
                changed = changed_fields(existing.fields, record.fields)
                self._put(record, None, version, changed)
                return Decision(Verdict.UPDATED, kept_key, existing.url, version=version, changed_fields=changed)
            same = self._find_content(record.content_hash)
            if same is not None:
                self._put(record, same.key)
                self._add_alt_url(same.key, record.url)
                return Decision(Verdict.DUPLICATE_CONTENT, same.key, same.url)
            if near_threshold is not None:
                best, best_sim = None, 0.0
                for row in self._band_candidates(record.signature.bands()):
                    sim = record.signature.similarity(Signature.from_bytes(row.signature))
                    if sim >= near_threshold and sim > best_sim:
                        best, best_sim = row, sim
                if best is not None:
                    self._put(record, best.key)
                    self._add_alt_url(best.key, record.url)
                    return Decision(Verdict.NEAR_DUPLICATE, best.key, best.url, best_sim)
            self._put(record, None)
            return Decision(Verdict.NEW, version=1)

    def _redeliver(self, existing: _Row, record: Record) -> Decision:
        """Kept by an earlier run that ended before its sinks had it: kept again, as the same version (the
        sinks never saw that one; PostgreSQL counts a version only where the revision changed)."""
        changed = existing.changed if existing.version > 1 else None
        if not _same_version(existing, record) and existing.version > 1:
            changed = sorted(set(changed or []) | set(changed_fields(existing.fields, record.fields)))
        self._put(record, None, existing.version, changed)
        if existing.version == 1:
            return Decision(Verdict.NEW, version=1)
        return Decision(Verdict.UPDATED, existing.key, existing.url, version=existing.version, changed_fields=changed)


def _same_version(existing: _Row, record: Record) -> bool:
    # rows stored before revisions were kept have none: their body is what was compared
    if existing.revision and record.revision:
        return existing.revision == record.revision
    return existing.content_hash == record.content_hash
