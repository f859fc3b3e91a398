"""robots.txt as RFC 9309 says: read for every host, obeyed by every request, re-read within a day.

Scrapy 2.19's RobotsTxtMiddleware parses whatever comes back as robots.txt — a 503 error page reads as
"allow everything" — treats a download error as allow-all, keeps the answer for the life of the process,
and lets all but one of the requests that wait for a robots.txt through unchecked (a Deferred's result is
None for later waiters). This middleware replaces it (settings.py):

- 2xx: the rules of the file; 4xx (but 429): no rules, everything allowed (RFC 9309 §2.3.1.3);
- 429, 5xx, or no answer at all (name lookup, connection, timeout): **everything disallowed**
  (§2.3.1.4), and the file is asked again after GMW_ROBOTS_RETRY; refused requests fail with the
  transient reason `robots_unavailable`, so they stay on the backlog for the next run;
- an answer is kept GMW_ROBOTS_CACHE (at most 24 hours, §2.4), then asked again;
- in distributed mode the answer is shared through Redis: one worker reads it, the others use it;
- each host's answer is in the stats (`gmw/robots/<host>`) and so in the run report.

Each request that waits for a robots.txt being downloaded gets the answer through a callback of its
own (tests/test_distributed.py::test_robots_txt_holds_for_requests_that_wait_for_it).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

from gmwcrawler import defaults
from gmwcrawler.distributed.connection import RedisPaused, RedisUnavailable, for_crawler
from gmwcrawler.distributed.keys import Keys

logger = logging.getLogger(__name__)
UNAVAILABLE = "robots.txt unavailable"  # the IgnoreRequest message's start: the spider's reason `robots_unavailable`


@dataclass(frozen=True)
class RobotsAnswer:
    """What one host's robots.txt said: its status (an HTTP code, or the download error's name), its
    body where it holds rules, and until when (epoch seconds) it stands."""

    status: str
    body: bytes | None
    until: float

    @property
    def disallow_all(self) -> bool:
        return self.body is None and not self.allow_all

    @property
    def allow_all(self) -> bool:
        return self.status.isdigit() and 400 <= int(self.status) < 500 and self.status != "429"


def answer_for(status: str, body: bytes | None, now: float, cache: float, retry: float) -> RobotsAnswer:
    """RFC 9309: 2xx rules; 4xx (not 429) allow all; 429, 5xx and download errors disallow all, asked again
    after `retry`; a file that was read stands `cache` seconds."""
    if status.isdigit() and 200 <= int(status) < 300:
        return RobotsAnswer(status, body or b"", now + cache)
    probe = RobotsAnswer(status, None, 0)
    return RobotsAnswer(status, None, now + (cache if probe.allow_all else retry))


class RobotsTxtMiddleware:
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.useragent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.parser_class = load_object(settings.get("ROBOTSTXT_PARSER"))
        build_from_crawler(self.parser_class, crawler, b"")  # a missing parser dependency fails at start
        self.cache = min(86_400.0, defaults.get(settings, "GMW_ROBOTS_CACHE"))
        self.retry = defaults.get(settings, "GMW_ROBOTS_RETRY")
        self.answers: dict[str, tuple[RobotsAnswer, RobotParser | None]] = {}
        self.pending: dict[str, Deferred] = {}
        self.shared = _SharedAnswers(crawler) if defaults.redis_url(settings) else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return  # this middleware's own download of a robots.txt
        if not request.url.startswith(("http://", "https://")):
            return
        netloc = urlparse_cached(request).netloc
        answer, parser = await self._answer(netloc, urlparse_cached(request).scheme)
        if answer.disallow_all:
            self.stats.inc_value("robotstxt/unavailable")
            raise IgnoreRequest(f"{UNAVAILABLE} for {netloc} ({answer.status}): nothing may be fetched until it"
                                " can be read (RFC 9309)")
        if parser is not None and not parser.allowed(request.url, request.headers.get(b"User-Agent") or self.useragent):
            self.stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest("Forbidden by robots.txt")

    async def _answer(self, netloc: str, scheme: str) -> tuple[RobotsAnswer, RobotParser | None]:
        known = self.answers.get(netloc)
        if known is not None and known[0].until > time.time():
            return known
        if netloc in self.pending:  # each waiter gets the answer through a callback of its own
            waiter: Deferred = Deferred()

            def hand_on(result: Any) -> Any:
                waiter.callback(result)
                return result

            self.pending[netloc].addBoth(hand_on)
            return await maybe_deferred_to_future(waiter)
        self.pending[netloc] = Deferred()
        try:
            answer = await self._read(netloc, scheme)
            parser = build_from_crawler(self.parser_class, self.crawler, answer.body) if answer.body is not None else None
        except Exception as exc:  # noqa: BLE001 - whatever stops the reading, the waiters must have an answer
            answer, parser = answer_for(type(exc).__name__, None, time.time(), self.cache, self.retry), None
        self.answers[netloc] = (answer, parser)
        self.stats.set_value(f"gmw/robots/{netloc}", answer.status)
        if answer.disallow_all:
            logger.warning("robots.txt of %s unavailable (%s): nothing is fetched from it until it can be read;"
                           " asked again in %.0f s (RFC 9309)", netloc, answer.status, self.retry)
        self.pending.pop(netloc).callback(self.answers[netloc])
        return self.answers[netloc]

    async def _read(self, netloc: str, scheme: str) -> RobotsAnswer:
        if self.shared is not None and (shared := await self.shared.get(netloc)) is not None:
            return shared
        request = Request(f"{scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                          meta={"dont_obey_robotstxt": True}, callback=NO_CALLBACK)
        self.stats.inc_value("robotstxt/request_count")
        try:
            response: Response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - any failure to read it means: disallow all, ask again later
            answer = answer_for(type(exc).__name__, None, time.time(), self.cache, self.retry)
        else:
            self.stats.inc_value("robotstxt/response_count")
            self.stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            answer = answer_for(str(response.status), response.body, time.time(), self.cache, self.retry)
            if answer.body is not None:
                parser = build_from_crawler(self.parser_class, self.crawler, answer.body)
                await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                                request=request)
        if self.shared is not None:
            await self.shared.put(netloc, answer)
        return answer


class _SharedAnswers:
    """Answers kept in Redis for the workers of a distributed crawl, each until its own `until`."""

    def __init__(self, crawler: Crawler) -> None:
        self.redis, self.guard = for_crawler(crawler)
        self.keys = Keys.of(crawler.settings, crawler.spidercls.name)

    async def get(self, netloc: str) -> RobotsAnswer | None:
        try:
            raw = await self.guard.call(self.redis.get, self.keys.robots(netloc))
        except (RedisUnavailable, RedisPaused):
            return None
        try:
            data = json.loads(raw) if raw else None
            if not isinstance(data, dict):
                return None
            body = base64.b64decode(data["body"]) if data.get("body") is not None else None
            answer = RobotsAnswer(str(data["status"]), body, float(data["until"]))
        except (ValueError, KeyError, TypeError):
            return None  # damaged or foreign: read the file again
        return answer if answer.until > time.time() else None

    async def put(self, netloc: str, answer: RobotsAnswer) -> None:
        ttl = int((answer.until - time.time()) * 1000)
        if ttl <= 0:
            return
        value = json.dumps({"status": answer.status, "until": answer.until,
                            "body": base64.b64encode(answer.body).decode("ascii") if answer.body is not None else None})
        try:
            await self.guard.call(self.redis.set, self.keys.robots(netloc), value, px=ttl)
        except (RedisUnavailable, RedisPaused):
            pass  # each worker then reads the file itself
