"""The `politics` spider: navigation only. What a page says is read by gmwcrawler.extract.

listing pages ──► article page 1 ──► pages 2..N (merged into one item)
                       └──► 相关阅读 links (to `related_depth`), never 推荐阅读/视觉焦点/navigation
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from gmwcrawler import defaults
from gmwcrawler.extract import ArticlePage, cross_check, extract_article_page, extract_listing, is_soft_404, merge_pages
from gmwcrawler.extract.urls import first_page_url, is_article_url, page_number_from_url
from gmwcrawler.incremental.crawl_store import Deliveries
from gmwcrawler.incremental.crawl_store import deliveries as deliveries_of
from gmwcrawler.incremental.crawl_store import revisits as revisits_of
from gmwcrawler.incremental.identity import identity_key
from gmwcrawler.incremental.middlewares import AlreadyStored
from gmwcrawler.incremental.revisit import Revisits, is_permanent
from gmwcrawler.incremental.store.base import BacklogEntry, Validators
from gmwcrawler.items import ArticleItem
from gmwcrawler.meta import (
    ARTICLE_META,
    BACKLOG_META,
    CONDITIONAL_META,
    HOPS_META,
    REFRESH_CANDIDATE_META,
    REFRESH_META,
    REQUEUED_META,
)
from gmwcrawler.signals import page_unreadable
from gmwcrawler.spiders.arguments import CrawlOptions, host_in_domains
from gmwcrawler.spiders.watch import poll_turns

# Listings first: an article then usually gets its first request from a listing (hop 0), and
# is rarely fetched a second time by a shorter path (gmwcrawler.incremental.dupefilter).
LISTING_PRIORITY = 10


def _failure_reason(failure: Failure) -> str:
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(IgnoreRequest):
        message = str(failure.value).lower()
        for needle, reason in _IGNORE_REASONS:
            if needle in message:
                return reason
    return failure.type.__name__ if failure.type else "unknown"


# IgnoreRequest carries its reason only in its message (Scrapy's middlewares).
_IGNORE_REASONS = (("robots.txt unavailable", "robots_unavailable"), ("robots.txt", "robots_txt"), ("max redirections", "redirect_loop"), ("offsite", "offsite"))


_PAGE_FIELDS = frozenset(f.name for f in dataclasses.fields(ArticlePage))


def _pages(pages: list[dict] | None) -> list[ArticlePage]:
    # fields this version does not know are left out: in Redis mode a continuation request may have
    # been queued by a newer worker (one that knows a field this one does not, as ArticlePage.author once was)
    return [ArticlePage(**{k: v for k, v in p.items() if k in _PAGE_FIELDS}) for p in pages or []]


def _page_url(first_url: str, page: int) -> str:
    return first_url if page == 1 else first_url[: -len(".htm")] + f"_{page}.htm"


class PoliticsSpider(scrapy.Spider):
    """Crawl the 时政 channel of politics.gmw.cn. Arguments: see README.md."""

    name = "politics"
    options_class = CrawlOptions
    # what a request stored in Redis may call back (gmwcrawler.distributed.serializer)
    allowed_callbacks = ("parse_listing", "parse_article", "article_failed", "listing_failed")
    # what this spider writes into a request, the only things a queue entry in Redis may carry
    # (gmwcrawler.distributed.serializer refuses the rest): meta keys and cb_kwargs with their types
    queue_meta: ClassVar[dict[str, Any]] = {
        ARTICLE_META: bool, HOPS_META: int, CONDITIONAL_META: bool, REFRESH_META: bool, REQUEUED_META: bool,
        BACKLOG_META: str, REFRESH_CANDIDATE_META: bool,
    }
    queue_cb_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
        "parse_listing": {"list_page": int, "margin_left": int, "poll": (int, float)},
        "parse_article": {"depth": int, "pages": list, "listed_at": str},
    }
    options: CrawlOptions

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.options = CrawlOptions.from_arguments(kwargs, crawler.settings)
        spider.start_urls = list(spider.options.start_urls)
        spider.allowed_domains = list(spider.options.allowed_domains)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        self.logger.info(
            "Crawling %d listing(s), max_list_pages=%s, since=%s, follow_related=%s, related_depth=%d, refresh=%d%s",
            len(self.start_urls), self.options.max_list_pages or "unlimited", self.options.since or "-",
            int(self.options.follow_related), self.options.related_depth, int(self.options.refresh),
            f", watch every {self.options.watch} s (SIGTERM or Ctrl-C ends it)" if self.options.watch else "",
        )
        # what an earlier run promised and did not finish (stopped midway): asked first, whatever the
        # listing stop decides below (tests/test_interrupted.py)
        for entry in self._deliveries().at_start:
            if entry.is_listing:
                yield self._listing_request(entry.url, entry.list_page)
            else:
                yield self._article_request(entry.url, entry.depth, entry.listed_at)
        if not self.options.watch:
            for url in self.start_urls:
                yield self._listing_request(url, 1)
            return
        # watch mode: this generator stays open, so the engine keeps the spider open; each poll asks the
        # first listing pages again (conditionally: an unchanged page is a 304 without a body). In a
        # cluster only the worker whose turn it is polls, the first pass included (gmwcrawler.spiders.watch).
        turns = poll_turns(self.crawler, self.options.watch)
        while True:
            await turns.wait()
            self._inc("watch/polls")
            polled = time.time()
            self.crawler.stats.set_value("gmw/watch/last_poll_at", polled)
            for url in self.start_urls:
                yield self._listing_request(url, 1, poll=polled, dont_filter=True)

    def _listing_request(self, url: str, list_page: int, margin_left: int | None = None, conditional: bool = True,
                         poll: float | None = None, **kwargs: Any) -> Request:
        return Request(url, callback=self.parse_listing, errback=self.listing_failed, priority=LISTING_PRIORITY,
                       cb_kwargs={"list_page": list_page, "margin_left": margin_left,
                                  **({"poll": poll} if poll is not None else {})},
                       meta={CONDITIONAL_META: conditional and self.options.stop_at_known,
                             # page 1 is asked by every run; a later page only by the walk that reached it
                             **({BACKLOG_META: BacklogEntry.LISTING + url} if list_page > 1 else {})},
                       # watch mode asks the same listing pages again in one process
                       **{"dont_filter": bool(self.options.watch), **kwargs})

    def _revisit_rules(self) -> Revisits:
        # a method, not a property: Scrapy's request serialisation inspects the spider's attributes
        if self._revisits is None:
            self._revisits = revisits_of(self.crawler)
        return self._revisits

    _revisits: Revisits | None = None

    def _deliveries(self) -> Deliveries:
        if self._delivery_book is None:
            self._delivery_book = deliveries_of(self.crawler)
        return self._delivery_book

    _delivery_book: Deliveries | None = None

    def _promise(self, requests: list[Request], listed_at: str | None = None) -> None:
        """Put the article requests the crawl must still fetch, and a next listing page, on the backlog
        before they are queued."""
        run = self._revisit_rules().store.current_run()
        entries = []
        for request in requests:
            key = request.meta.get(BACKLOG_META)
            if not key:
                continue
            if key.startswith(BacklogEntry.LISTING):
                entries.append(BacklogEntry(key, request.url, run, list_page=request.cb_kwargs["list_page"]))
            elif self._revisit_rules().wanted(request.url):
                entries.append(BacklogEntry(key, request.url, run, depth=request.cb_kwargs["depth"], listed_at=listed_at))
        self._deliveries().promise(entries)

    def _inc(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"gmw/{key}", count)

    def _remember(self, response: Response, entries: list[str] | None = None, next_url: str | None = None) -> None:
        """The page's ETag / Last-Modified (and a listing's entries, in the same write: a 304 is
        answered from what the page held), for the next run's conditional request."""
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if etag or modified:
            self._revisit_rules().remember(response.request.url, Validators(
                etag.decode("latin-1") if etag else None, modified.decode("latin-1") if modified else None,
                entries, next_url))

    # -- listings --------------------------------------------------------------------------
    def parse_listing(self, response: Response, list_page: int = 1, margin_left: int | None = None,
                      poll: float | None = None) -> Iterator[Request]:
        """A 时政 listing page: its articles, then the next page — unless this page and
        GMW_LISTING_MARGIN more hold only known articles.

        @url https://politics.gmw.cn/node_9840.htm
        @cb_kwargs {"list_page": 1}
        @returns requests 10
        @returns items 0 0
        """
        self._inc("listing/pages")
        self._deliveries().attempt(response.request)
        if response.status == 304:  # unchanged since the last run read it (gmwcrawler.incremental.conditional)
            known = self._revisit_rules().validators(response.request.url)
            if known is None or known.entries is None:
                # validators without entries (the store was changed by hand?): ask once more without them
                self._inc("listing/not_modified_unknown")
                yield self._listing_request(response.request.url, list_page, margin_left, conditional=False, poll=poll,
                                            dont_filter=True)
                return
            self._inc("listing/not_modified")
            urls, next_url, older = known.entries, known.next_url, False
        elif not isinstance(response, TextResponse):
            self._inc("listing/not_html")
            self._deliveries().resolve(response.request)
            return
        else:
            urls, next_url, older = self._listed_articles(response)
            self._remember(response, urls, next_url)
        listed_at = datetime.now(UTC).isoformat(timespec="seconds")
        out = [self._article_request(url, depth=0, listed_at=listed_at) for url in urls]
        if self.options.watch:
            # an article this watching run stored (or gave up on) is kept from a second fetch by the dupe filter,
            # so its refresh steps (corrections in its first hours), or the next try of a failed page, would never
            # come: one that looks due goes past it, and the incremental middleware decides
            for request in out:
                if self._revisit_rules().revisit_due(request.url):
                    request.meta[REFRESH_CANDIDATE_META] = True
                    request.dont_filter = True
        if next_url is not None and not older:
            next_page = self._next_listing_page(response, urls, next_url, list_page, margin_left, poll)
            if next_page is not None:
                out.append(next_page)
        # on the backlog before they are queued, and this page off it: a run stopped from here on is
        # finished by the next one from here on
        self._promise(out, listed_at)
        self._deliveries().resolve(response.request)
        yield from out

    def _next_listing_page(self, response: Response, urls: list[str], next_url: str, list_page: int,
                           margin_left: int | None, poll: float | None = None) -> Request | None:
        if self.options.stop_at_known:
            # a watch poll walks as a run of its own would: what the watching run stored before it is known
            all_known = bool(urls) and all(self._revisit_rules().known(url, before=poll) for url in urls)
            margin_left = (self.margin if margin_left is None else margin_left - 1) if all_known else None
            # an unchanged page of known articles: the pages after it cannot have changed either, unless
            # an article was inserted lower down, which the margin of a changed page is there for. "Known"
            # includes what an earlier run left on the backlog: that run's walk goes on from its backlog.
            if all_known and (response.status == 304 or margin_left <= 0):
                self._inc("listing/stopped_at_known")
                return None
        if self.options.max_list_pages and list_page >= self.options.max_list_pages:
            self._inc("listing/max_pages_reached")
            self.logger.info("Stopped paging at max_list_pages=%d: %s", self.options.max_list_pages, response.url)
            return None
        return self._listing_request(response.urljoin(next_url), list_page + 1, margin_left, poll=poll)

    @property
    def margin(self) -> int:
        return max(0, defaults.get(self.crawler.settings, "GMW_LISTING_MARGIN"))

    def _listed_articles(self, response: TextResponse) -> tuple[list[str], str | None, bool]:
        """The article URLs of a listing page (since applied), its next page, and whether it reached
        articles older than since."""
        listing = extract_listing(response)
        if listing.bad_links:
            self._inc("extract/bad_link", listing.bad_links)
        for part, route in listing.routes.items():
            if route:
                self._inc(f"extract/listing_{part}/{route}")
        if not listing.entries:
            self._inc("listing/empty")
            self.logger.warning("Listing page has no entries (markup changed?): %s", response.url)
        urls: list[str] = []
        older = False
        for entry in listing.entries:
            if self.options.since and entry.day and entry.day < self.options.since:
                older = True
                self._inc("listing/older_than_since")
                continue
            if not is_article_url(entry.url):
                self._inc("listing/non_article_link")
                continue
            if not self._allowed(entry.url):  # never fetched: nor may it keep the page from being "known"
                self._inc("listing/offsite_link")
                continue
            self._inc("listing/article_links")
            urls.append(entry.url)
        if older:
            self._inc("listing/stopped_at_since")
        return urls, listing.next_url, older

    def listing_failed(self, failure: Failure) -> None:
        reason = _failure_reason(failure)
        self._deliveries().attempt(failure.request)
        if is_permanent(reason):  # a transient failure stays on the backlog: the next run asks again
            self._deliveries().resolve(failure.request)
        self._inc(f"listing/failed/{reason}")
        self.logger.warning("Listing page not fetched (%s): %s", reason, failure.request.url)

    def _article_request(self, url: str, depth: int, listed_at: str | None = None) -> Request:
        first = first_page_url(url)
        return Request(first, callback=self.parse_article, errback=self.article_failed,
                       cb_kwargs={"depth": depth, "listed_at": listed_at},
                       meta={ARTICLE_META: True, HOPS_META: depth, BACKLOG_META: identity_key(first)},
                       priority=-depth)  # articles of the listings before related reading

    # -- articles -----------------------------------------------------------------------------
    def parse_article(self, response: Response, depth: int = 0, pages: list[dict] | None = None,
                      listed_at: str | None = None) -> Iterator[Any]:
        """An article page; pages 2..N are fetched in turn and merged into one item.

        @url https://politics.gmw.cn/2026-01/20/content_38547123.htm
        @returns items 1 1
        @scrapes url article_id title publish_time source editor channel content content_html page_count crawled_at
        """
        self._deliveries().attempt(response.request)
        if response.status == 304:  # a refresh of an unchanged article (gmwcrawler.incremental.conditional)
            self._inc("refresh/not_modified")
            self._revisit_rules().refreshing.discard(identity_key(response.request.url))  # no item to decide
            self._deliveries().resolve(response.request)
            return
        if not isinstance(response, TextResponse):
            self._inc("article/not_html")
            self._failed_for_good(response.request, "not_html")
            return
        try:
            if is_soft_404(response):
                self._inc("article/soft_404")
                self.logger.info("Soft 404 (HTTP 200 error page), no item: %s", response.url)
                self._failed_for_good(response.request, "soft_404")
                return
            page = extract_article_page(response)
        except Exception as exc:  # noqa: BLE001 - a page nobody can read is a counted drop, not a traceback
            self._unreadable(response, exc)
            return
        self._cross_check(response, page)
        if page.page == 1 and not pages:
            self._remember(response)
        if page.bad_links:
            self._inc("extract/bad_link", page.bad_links)
        if page.related_placeholders:
            self._inc("related/placeholder", page.related_placeholders)
        read = [*_pages(pages), page]
        if page.page < page.page_count:
            self._inc("article/continuation_pages")
            yield Request(
                _page_url(page.first_page_url, page.page + 1),
                callback=self.parse_article,
                errback=self.article_failed,
                # plain dicts: in distributed mode the request is stored in Redis as JSON
                # (shallow: the pages are never changed; dataclasses.asdict deep-copies every list)
                cb_kwargs={"depth": depth, "pages": [dict(vars(p)) for p in read], "listed_at": listed_at},
                meta={BACKLOG_META: response.request.meta.get(BACKLOG_META)},  # off the backlog with the item
                priority=1,  # finish an article before starting new ones
            )
            return
        yield from self._finish(response.request, read, depth, listed_at=listed_at)

    def _cross_check(self, response: TextResponse, page: ArticlePage) -> None:
        """One page in GMW_EXTRACT_CHECK_EVERY (chosen by its URL, the same in every run) is read by the
        generic routes too: a field they read otherwise than the template is counted and logged (the
        template's value stands). The count rises before the templates stop matching."""
        every = defaults.get(self.crawler.settings, "GMW_EXTRACT_CHECK_EVERY")
        if every <= 0 or zlib.crc32(response.url.encode("utf-8")) % every:
            return
        try:
            disagreements = cross_check(response, page)
        except Exception as exc:  # noqa: BLE001 - a check must never cost the page
            self._inc(f"extract_check/error/{type(exc).__name__}")
            return
        self._inc("extract_check/pages")
        for field, (ours, theirs) in disagreements.items():
            self._inc(f"extract_check/{field}/disagree")
            self.logger.warning("Template and generic route disagree on %s of %s (the template's value is kept):"
                                " %.80r vs %.80r", field, response.url, ours, theirs)

    def check_queue_entry(self, request: Request) -> str | None:
        """Why a request read from the Redis queue is not one this spider wrote, or None. The pages read
        so far of a multi-page article must be earlier pages of that article, each a page as extraction
        writes it: an entry cannot slip another article's fields into this one's item."""
        pages = request.cb_kwargs.get("pages")
        if not pages:
            return None
        first, current = first_page_url(request.url), page_number_from_url(request.url)
        for page in pages:
            if not isinstance(page, dict) or not set(page) <= _PAGE_FIELDS or not isinstance(page.get("url"), str):
                return "cb_kwargs pages holds something that is no article page"
            if first_page_url(page["url"]) != first or page_number_from_url(page["url"]) >= current:
                return f"cb_kwargs pages holds a page of another article or a later page ({page['url']!r:.100})"
            try:
                ArticlePage(**page)
            except TypeError as exc:
                return f"cb_kwargs pages holds no article page ({exc})"
        return None

    def _failed_for_good(self, request: Request, reason: str, url: str | None = None) -> None:
        """A permanent outcome: kept (asked again after its backoff), and off the backlog."""
        self._deliveries().resolve(request)
        if self._revisit_rules().failed_for_good(url or request.url, reason):
            self._inc(f"revisit/failed_kept/{reason}")

    def _unreadable(self, response: TextResponse, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        self._inc(f"article/extract_error/{type(exc).__name__}")
        if not response.request.cb_kwargs.get("pages"):
            self._failed_for_good(response.request, f"extract_error/{type(exc).__name__}")
        else:
            self._deliveries().resolve(response.request)
        self.logger.warning("Article page not readable (%s), no item: %s", reason[:200], response.url)
        self.crawler.signals.send_catch_log(page_unreadable, request=response.request, response=response, reason=reason)

    def article_failed(self, failure: Failure) -> Iterator[Any]:
        """An article page failed for good (HTTP error, retries used up, robots.txt, offsite,
        redirect loop, too large…): count it by reason; for a later page of a multi-page
        article keep what was read and say which pages are missing."""
        request = failure.request
        self._deliveries().attempt(request)
        if failure.check(AlreadyStored):
            self._deliveries().resolve(request)
            return  # counted by the middleware as gmw/incremental/skipped_stored
        reason = _failure_reason(failure)
        self._inc(f"article/failed/{reason}")
        pages = _pages(request.cb_kwargs.get("pages"))
        if not pages:
            self.logger.info("Article not fetched (%s): %s", reason, request.url)
            if is_permanent(reason):  # a transient failure stays on the backlog: the next run asks again
                self._failed_for_good(request, reason)
            return
        missing = list(range(page_number_from_url(request.url), pages[0].page_count + 1))
        self._inc("article/incomplete")
        self.logger.warning("Article %s is missing page(s) %s (%s)", pages[0].first_page_url, missing, reason)
        yield from self._finish(request, pages, request.cb_kwargs["depth"], missing, request.cb_kwargs.get("listed_at"))

    def _finish(self, request: Request, pages: list[ArticlePage], depth: int, missing: list[int] | None = None,
                listed_at: str | None = None) -> Iterator[Any]:
        fields = merge_pages(pages)
        if not fields["title"] or not fields["content"]:
            self._inc("article/unparseable")
            self.logger.warning("No title or body found, no item: %s", pages[0].url)
            self._failed_for_good(request, "unparseable", pages[0].first_page_url)
            return
        for field, path in fields["provenance"].items():
            self._inc(f"extract/{field}/{path or 'missing'}")
        if fields["generic_fields"]:
            self._inc("article/generic")
            self.logger.warning("Read by the generic route (no template found them; markup changed?): %s of %s",
                                ", ".join(fields["generic_fields"]), fields["url"])
        item = ArticleItem(**fields, crawled_at=datetime.now(UTC).isoformat(timespec="seconds"))
        if missing:
            item["missing_pages"] = missing
        if listed_at:
            item["first_listed_at"] = listed_at
        self._inc("article/items")
        if fields["page_count"] > 1:
            self._inc("article/multi_page")
        related = []
        if self.options.follow_related and depth < self.options.related_depth:
            for link in fields["related"]:
                if is_article_url(link["url"]) and self._allowed(link["url"]):
                    self._inc("related/followed")
                    related.append(self._article_request(link["url"], depth=depth + 1))
                else:
                    self._inc("related/skipped")
        self._promise(related)  # before the item: once it is delivered, only the backlog knows of them
        yield item
        yield from related

    def _allowed(self, url: str) -> bool:
        return host_in_domains(urlsplit(url).hostname or "", self.allowed_domains)
