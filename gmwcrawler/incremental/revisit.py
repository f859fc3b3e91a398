"""When a page the crawl knows is asked again: the one owner of these rules.

- A stored article young enough to be corrected is fetched again at the steps of
  GMW_REFRESH_SCHEDULE (seconds after it was first stored), whatever the timer's period; a
  run that comes late does the steps it missed as one fetch. "Young enough": published at most
  the schedule's last step before it was first stored (an old article found through 相关阅读 is
  not refreshed).
- An article that failed for good (HTTP 4xx, soft 404, unreadable, robots.txt, offsite…) is
  asked again after GMW_FAILED_RETRY_SCHEDULE's steps (1st failure, 2nd, … the last step
  repeats), not in every run. A transient failure (5xx after retries, a timeout) is not kept:
  the next run asks again, as before.
- A listing entry is "known" when an earlier run stored the article or gave up on it for now;
  the spider stops paging at known pages (GMW_LISTING_MARGIN).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.extract.text import parse_publish_time
from gmwcrawler.incremental.identity import identity_key
from gmwcrawler.incremental.store.base import FailedFetch, SeenStore, StoredInfo, StoreUnavailable, Validators

# reasons of gmwcrawler.spiders.politics that asking again soon would not change
_PERMANENT = frozenset({"soft_404", "unparseable", "not_html", "robots_txt", "offsite", "redirect_loop"})
_TRANSIENT_HTTP = frozenset({"http_408", "http_429"})


def is_permanent(reason: str) -> bool:
    if reason in _PERMANENT or reason.startswith("extract_error"):
        return True
    return reason.startswith("http_4") and reason not in _TRANSIENT_HTTP


def schedule(settings: BaseSettings, name: str) -> tuple[float, ...]:
    """A setting of growing seconds ("900,3600" or a list); ValueError names the setting."""
    raw = defaults.raw(settings, name)
    parts = raw if isinstance(raw, (list, tuple)) else str(raw or "").split(",")
    try:
        steps = tuple(float(str(p).strip()) for p in parts if str(p).strip())
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected seconds separated by commas, e.g. 900,3600") from None
    if any(s <= 0 for s in steps) or list(steps) != sorted(set(steps)):
        raise ValueError(f"{name}={raw!r}: expected growing numbers of seconds, each more than 0")
    return steps


class Action(enum.Enum):
    FETCH = "fetch"  # not known: a first fetch
    REFRESH = "refresh"  # stored, a step of the refresh schedule is due
    RETRY_FAILED = "retry_failed"  # failed for good earlier, its backoff has passed
    SKIP_STORED = "skipped_stored"
    SKIP_FAILED = "skipped_failed"
    REVISIT = "revisit"  # stored by this very run: a shorter path to it (gmwcrawler.incremental.dupefilter)


@dataclass(frozen=True)
class Revisits:
    store: SeenStore
    refresh_steps: Sequence[float]
    failed_steps: Sequence[float]
    # identity keys let through for a refresh step and not decided yet: the dedupe pipeline compares their
    # item as a revision even where this run stored the article (SeenStore.decide's `refresh`)
    refreshing: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def from_settings(cls, store: SeenStore, settings: BaseSettings) -> Revisits:
        return cls(store, schedule(settings, "GMW_REFRESH_SCHEDULE"), schedule(settings, "GMW_FAILED_RETRY_SCHEDULE"))

    def article(self, url: str, now: float | None = None) -> Action:
        """What to do with a request for this article; a due refresh step is marked done."""
        now = time.time() if now is None else now
        key = identity_key(url)
        info = self.store.stored(key)
        if info is not None and not info.delivered and not info.this_run:
            return Action.FETCH  # kept by a run that ended before its sinks had it: delivered now
        if info is not None:
            # a step due is a refresh whichever run stored the article: a watching run lives for days
            reached = self._refresh_reached(info, now)
            if reached:
                self.store.mark_refreshed(key, reached)
                self.refreshing.add(key)
                return Action.REFRESH
            return Action.REVISIT if info.this_run else Action.SKIP_STORED
        failed = self.store.failed(key)
        if failed is None or failed.run_id == self.store.current_run():
            return Action.FETCH
        return Action.RETRY_FAILED if now >= failed.retry_at else Action.SKIP_FAILED

    def _refresh_reached(self, info: StoredInfo, now: float) -> int:
        """The refresh steps reached, if more than were done (a young original only); else 0."""
        if info.duplicate_of is not None or info.first_stored is None or not self.refresh_steps:
            return 0
        published = parse_publish_time(info.publish_time)
        young = published is not None and info.first_stored - published.timestamp() <= self.refresh_steps[-1]
        reached = sum(step <= now - info.first_stored for step in self.refresh_steps)
        return reached if young and reached > info.refresh_step else 0

    def revisit_due(self, url: str, now: float | None = None) -> bool:
        """Whether a stored article is due for a refresh step, or a page that failed for good is due to be asked
        again (nothing is marked: `article` decides)."""
        now = time.time() if now is None else now
        key = identity_key(url)
        try:
            info = self.store.stored(key)
            if info is not None:
                return bool(self._refresh_reached(info, now))
            failed = self.store.failed(key)
        except StoreUnavailable:
            return False
        return failed is not None and now >= failed.retry_at

    # The spider's calls below never raise StoreUnavailable (Redis gone for good: the worker is
    # ending): a callback that raised would be a traceback; not knowing is the safe answer.
    def known(self, url: str, now: float | None = None, before: float | None = None) -> bool:
        """Stored (and delivered) by an earlier run, given up on for now, or in the backlog since an earlier
        run (which asks it in any case): a listing of only such entries holds nothing new. `before`: a
        watch poll's start; what this (watching) run stored and delivered before it is known too, so each
        poll stops where a run of its own would (tests/test_watch_cluster.py counts the listing requests)."""
        key = identity_key(url)
        try:
            info = self.store.stored(key)
            if info is not None and info.this_run:
                return (before is not None and info.delivered and info.first_stored is not None
                        and info.first_stored < before)
            if info is not None and info.delivered:
                return True
            if self.store.backlogged_before(key):
                return True
            failed = self.store.failed(key)
            run = self.store.current_run()
        except StoreUnavailable:
            return False
        now = time.time() if now is None else now
        # failed for good by an earlier run, or (watch mode) by this one: asked again at retry_at, not at every poll
        return failed is not None and (failed.run_id != run or before is not None) and now < failed.retry_at

    def wanted(self, url: str, now: float | None = None) -> bool:
        """Whether a listed (or 相关阅读) article is one the crawl must still fetch: not stored, or stored by
        an earlier run that never delivered it, and not given up on for now. Such an article goes on the
        backlog until it has an outcome."""
        key = identity_key(url)
        try:
            info = self.store.stored(key)
            if info is not None:
                return not info.delivered and not info.this_run
            failed = self.store.failed(key)
            run = self.store.current_run()
        except StoreUnavailable:
            return False
        if failed is None:
            return True
        now = time.time() if now is None else now
        return failed.run_id != run and now >= failed.retry_at  # failed this run: that was its outcome

    def validators(self, url: str) -> Validators | None:
        try:
            return self.store.validators(url)
        except StoreUnavailable:
            return None

    def remember(self, url: str, validators: Validators) -> None:
        try:
            self.store.put_validators(url, validators)
        except StoreUnavailable:
            pass

    def failed_for_good(self, url: str, reason: str, now: float | None = None) -> bool:
        """Keep a failure that asking again soon would not change; returns whether it was kept."""
        if not is_permanent(reason) or not self.failed_steps:
            return False
        now = time.time() if now is None else now
        key = identity_key(url)
        try:
            run = self.store.current_run()
            before = self.store.failed(key)
            if before is not None and before.run_id == run:
                return True  # a second path to the same page in this run: counted once
            count = before.count + 1 if before else 1
            retry_at = now + self.failed_steps[min(count, len(self.failed_steps)) - 1]
            self.store.put_failed(FailedFetch(key, url, reason, count, retry_at, run))
        except StoreUnavailable:
            return False
        return True
