"""When a leased request is finished, seen through Scrapy's public extension points.

A lease may be acknowledged only when its outcome is final: its callback or errback ran, every
item it produced went through every pipeline, and every request it produced reached the
scheduler (whose outbox goes to Redis in the same step as the acknowledgement). Scrapy has no
"response processed" signal, so the tracker counts what is still open for each lease:

- output: the callback's output is counted where it leaves the spider middlewares, by
  `LeaseMiddleware`, the outermost spider middleware (so a request a middleware drops is never
  counted). A download failure's errback output does not pass through spider middlewares;
  the scheduler gives each leased request an errback wrapper (`errback_for`) that counts it.
- items: counted out there, counted back by the item_scraped / item_dropped / item_error
  signals, which carry the response (or the failure) and so the request and its lease;
- requests: tagged with their parent's lease on the way out, counted back by request_scheduled
  (sent by the engine just before it hands the request to the scheduler, in the same call);
- an exception that escapes the callback ends its output (spider_error).

Whatever the path, the tracker only ever learns later than the truth, never earlier: a lease
whose accounting stays open (a killed worker, a closing spider) is not acknowledged, and goes
back to the queue (at close, or after GMW_LEASE_TIMEOUT) to be done again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import scrapy
from packaging.version import Version
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.asyncgen import as_async_generator
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.spider import iterate_spider_output
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

LEASE_META = "gmw_lease"  # on a leased request: its queue entry
PARENT_META = "gmw_lease_parent"  # on a request a leased request's callback produced: the parent's entry
MIDDLEWARE = "gmwcrawler.distributed.leases.LeaseMiddleware"
MIDDLEWARE_ORDER = 0  # below every spider middleware Scrapy ships (the lowest, StartSpiderMiddleware, is 25)
# Spider middlewares whose process_spider_exception is known to return no output for a response
# that has a lease (HttpErrorMiddleware: an empty list for HttpError). Output returned there would
# reach LeaseMiddleware in a second pass after the first had ended, when the lease may be acknowledged.
EXCEPTION_HANDLERS_WITHOUT_OUTPUT = frozenset({"scrapy.spidermiddlewares.httperror.HttpErrorMiddleware"})


OLDEST_SCRAPY = "2.19"  # engine.scheduler, the public way to reach the scheduler, is new in 2.19 (setup.py)


class UnsafeWorker(Exception):
    """This worker could not account for its leases; the message says why."""


def check_worker(settings: BaseSettings, scrapy_version: str = scrapy.__version__) -> None:
    """The Scrapy release, LeaseMiddleware first in the output chain, and no spider middleware that
    turns an exception into output; raised before anything is fetched (`scrapy crawl` preflight,
    and the extension for a crawl started otherwise)."""
    if Version(scrapy_version) < Version(OLDEST_SCRAPY):
        raise UnsafeWorker(f"distributed mode needs Scrapy {OLDEST_SCRAPY} or newer; this is Scrapy {scrapy_version}")
    enabled = build_component_list(settings.get_component_priority_dict_with_base("SPIDER_MIDDLEWARES"))
    names = [name if isinstance(name, str) else f"{name.__module__}.{name.__qualname__}" for name in enabled]
    if not names or names[0] != MIDDLEWARE:
        raise UnsafeWorker(
            f"distributed mode needs {MIDDLEWARE} as the first spider middleware (order below"
            f" {MIDDLEWARE_ORDER + 1}); SPIDER_MIDDLEWARES puts {names[0] if names else 'nothing'} first")
    for name, component in zip(names, enabled, strict=True):
        cls = load_object(component) if isinstance(component, str) else component
        if getattr(cls, "process_spider_exception", None) and name not in EXCEPTION_HANDLERS_WITHOUT_OUTPUT:
            raise UnsafeWorker(
                f"spider middleware {name} handles exceptions (process_spider_exception); output it returns"
                f" could leave a leased request after its lease was acknowledged. Distributed mode knows"
                f" only {', '.join(sorted(EXCEPTION_HANDLERS_WITHOUT_OUTPUT))}")


@dataclass
class _Open:
    """What is still open for one lease."""

    chains: int = 0  # output iterations running (spider middleware chain or errback)
    items: int = 0  # items out, not yet through the pipelines
    children: int = 0  # requests out, not yet at the scheduler
    in_spider_middleware: bool = False  # LeaseMiddleware counts this lease's output (errback_for stands aside)
    ended: bool = False  # the callback or errback has produced all it will
    failed: bool = False  # an item could not be stored (item_error): the lease is given back, not acknowledged


def lease_of(response: Any) -> str | None:
    """The lease of the request behind a response or a failure (item and error signals carry either)."""
    request = getattr(response, "request", None)
    return request.meta.get(LEASE_META) if isinstance(request, Request) else None


class LeaseTracker:
    """One per worker, owned by the scheduler: `acknowledge(entry)` is called once a lease is finished, or
    `give_back(entry)` where an item of it could not be stored (its page is fetched again)."""

    def __init__(self, acknowledge: Callable[[str], None], give_back: Callable[[str], None] | None = None) -> None:
        self.acknowledge = acknowledge
        self.give_back = give_back or acknowledge
        self.open: dict[str, _Open] = {}

    def begin(self, entry: str) -> None:
        self.open[entry] = _Open()

    def forget(self, entry: str) -> None:
        self.open.pop(entry, None)

    def _check(self, entry: str, state: _Open) -> None:
        if state.ended and not (state.chains or state.items or state.children):
            del self.open[entry]
            (self.give_back if state.failed else self.acknowledge)(entry)

    # -- output ----------------------------------------------------------------------------------
    async def count_output(self, entry: str, result: AsyncIterator[Any], spider_middleware: bool) -> AsyncIterator[Any]:
        state = self.open.get(entry)
        if state is not None and spider_middleware:
            state.in_spider_middleware = True
        elif state is not None and state.in_spider_middleware:
            state = None  # an errback called inside the spider middlewares (HttpError): they count
        if state is None:
            async for out in result:
                yield out
            return
        state.chains += 1
        ended = False
        try:
            async for out in result:
                if isinstance(out, Request):
                    # a new request: a copy of the leased one (request.replace) must not pass for its retry
                    out.meta.pop(LEASE_META, None)
                    out.meta[PARENT_META] = entry
                    state.children += 1
                elif out is not None:  # what the scraper sends to the pipelines
                    state.items += 1
                yield out
            ended = True
        except Exception:
            ended = True  # the callback raised: its output is over
            raise
        finally:
            # closed before its end (the spider closing mid-callback: GeneratorExit), the output is
            # not over: the lease stays open and goes back to the queue
            state.chains -= 1
            state.ended = state.ended or ended
            if self.open.get(entry) is state:
                self._check(entry, state)

    def output_failed(self, response: Any) -> None:
        """spider_error: an exception ended the callback's (or errback's) output."""
        entry = lease_of(response)
        state = self.open.get(entry) if entry else None
        if state is not None:
            state.ended = True
            self._check(entry, state)

    def errback_for(self, entry: str, errback: Callable[[Failure], Any] | None) -> Callable[[Failure], Any]:
        """The errback Scrapy calls for a leased request: the spider's own (or none: the failure is
        raised on, as Scrapy does without an errback), its output counted for the lease."""

        def leased_errback(failure: Failure) -> Any:
            try:
                if errback is None:
                    failure.raiseException()
                output = errback(failure)
                if isinstance(output, Failure):
                    output.raiseException()
            except BaseException:
                self.output_failed(failure)  # nothing more comes; a second report is a no-op
                raise
            return self.count_output(entry, as_async_generator(iterate_spider_output(output)), spider_middleware=False)

        leased_errback.__wrapped__ = errback  # type: ignore[attr-defined]  # the spider's, for the queue
        return leased_errback

    # -- what comes back -----------------------------------------------------------------------------
    def item_left(self, response: Any) -> None:
        """item_scraped / item_dropped: the item went through the pipelines."""
        entry = lease_of(response)
        state = self.open.get(entry) if entry else None
        if state is not None and state.items:
            state.items -= 1
            self._check(entry, state)

    def item_failed(self, response: Any) -> None:
        """item_error: a pipeline raised (a sink refused the item). Acknowledging would lose it."""
        entry = lease_of(response)
        state = self.open.get(entry) if entry else None
        if state is not None:
            state.failed = True
        self.item_left(response)

    def child_scheduled(self, request: Request) -> None:
        """request_scheduled for a request a leased request produced: next, the engine hands it to
        the scheduler (or a request_scheduled handler drops it); either way it is done with."""
        entry = request.meta.pop(PARENT_META, None)
        state = self.open.get(entry) if entry else None
        if state is not None and state.children:
            state.children -= 1
            self._check(entry, state)


def spider_errback(request: Request) -> Callable[[Failure], Any] | None:
    """The spider's errback of a request that may carry a `leased_errback`."""
    errback = request.errback
    return getattr(errback, "__wrapped__", errback) if errback is not None else None



class LeaseMiddleware:
    """The outermost spider middleware in distributed mode: counts what each leased response's
    callback produces, as the engine receives it (gmwcrawler.distributed.addon puts it there)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseMiddleware:
        return cls(crawler)

    async def process_spider_output(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        entry = lease_of(response)
        tracker = getattr(self.crawler.engine.scheduler, "leases", None) if entry else None
        if tracker is None:
            async for out in result:
                yield out
            return
        async for out in tracker.count_output(entry, result, spider_middleware=True):
            yield out
