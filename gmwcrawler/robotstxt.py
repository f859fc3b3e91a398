"""robots.txt, obeyed by every request — also those that wait for robots.txt to arrive.

Scrapy 2.19's RobotsTxtMiddleware makes the requests for a host that arrive while its
robots.txt is being downloaded await one shared Deferred through `asFuture()`, which leaves
None as that Deferred's result for every later waiter: all of them but one are let through
unchecked. A distributed worker that joins a run starts with many such requests, and the
replica's robots-forbidden page was fetched (twice in about ten 3-worker test runs). Here
each waiter gets the parser through a callback of its own that passes the result on.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            waiter: Deferred[RobotParser | None] = Deferred()

            def hand_on(result):
                waiter.callback(result)
                return result  # the shared Deferred keeps its result for the next waiter

            pending.addBoth(hand_on)
            return await maybe_deferred_to_future(waiter)
        return await super().robot_parser(request)
