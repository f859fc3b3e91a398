"""A downloader middleware for the tests only: the worker process dies (kill -9, as the OOM killer would)
as soon as it has fetched a page whose URL contains the setting TEST_KILL_ON_URL: a page that kills every
worker that takes it (tests/test_distributed.py)."""

from __future__ import annotations

import os
import signal

from scrapy.crawler import Crawler
from scrapy.http import Request, Response


class KillOnUrl:
    def __init__(self, needle: str) -> None:
        self.needle = needle

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KillOnUrl:
        return cls(crawler.settings.get("TEST_KILL_ON_URL", ""))

    def process_response(self, request: Request, response: Response) -> Response:
        if self.needle and self.needle in request.url:
            os.kill(os.getpid(), signal.SIGKILL)
        return response
