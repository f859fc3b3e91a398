"""`scrapy crawl` that rejects a bad spider argument in one line, before the crawl starts.

An exception raised in a spider's __init__ reaches the user as a traceback from
deep inside the engine; a UsageError raised here becomes
`scrapy crawl: error: ...` and exit status 2. A thin subclass: the checks before, the
run's verdict after (exit 1), Scrapy's own command in between.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from datetime import UTC, datetime

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError

from gmwcrawler.health.metrics import publish as publish_metrics
from gmwcrawler.health.preflight import MetricsDirError, PreflightError, check
from gmwcrawler.health.report import fails, watch_ended, write_report
from gmwcrawler.spiders.arguments import ArgumentError, CrawlOptions

FAILED_REASONS = {"redis_unavailable", "shutdown"}
logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            spidercls = self.crawler_process.spider_loader.load(args[0]) if args[0] in self.crawler_process.spider_loader.list() else None
            if spidercls is not None and getattr(spidercls, "options_class", None) is CrawlOptions:
                try:
                    CrawlOptions.from_arguments(opts.spargs, self.settings)
                except ArgumentError as exc:
                    raise UsageError(str(exc), print_help=False) from None
        try:
            check(self.settings)
        except PreflightError as exc:
            self._failed_to_start(str(exc), args[0] if args else "politics",
                                  metrics=not isinstance(exc, MetricsDirError))
            raise UsageError(str(exc), print_help=False) from None
        self._crawler: Crawler | None = None
        super().run(args, opts)  # Scrapy's own command: crawl, start, bootstrap_failed
        crawler = self._crawler
        if crawler is None or crawler.stats is None:
            return
        # a timer or monitor must notice a run that did not do its work (gmwcrawler.health.report.RunReport)
        verdict = crawler.stats.get_value("gmw/run/verdict")
        reason = crawler.stats.get_value("finish_reason")
        if (reason in FAILED_REASONS and not watch_ended(crawler, reason)) or fails(verdict, crawler.settings):
            self.exitcode = 1

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        # Scrapy's run() makes the crawler and forgets it; its stats decide the exit status here. This
        # method of Scrapy's run-spider commands is the one seam (tests/test_command_line.py checks it is there).
        self._crawler = super()._create_crawler(spidercls)
        return self._crawler

    def _failed_to_start(self, message: str, spider: str, metrics: bool = True) -> None:
        """What a monitor reads when the crawl never started: under scrapyd stderr goes to scrapyd's
        own log, so the reason is also logged into the job's LOG_FILE, and the run report (where one
        can be written) says failed. On a terminal the UsageError line alone is printed."""
        assert self.settings is not None
        if self.settings.get("LOG_FILE"):
            logger.error("Crawl not started: %s", message)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        report = {"spider": spider, "run": None, "worker": f"{socket.gethostname()}:{os.getpid()}", "start": now,
                  "end": now, "finish_reason": "failed_to_start", "verdict": "failed_to_start", "message": message,
                  "pages": 0, "items_stored": 0}
        write_report(report, self.settings, spider, quiet=True)
        if metrics:  # a monitor that can be told, is told
            publish_metrics(report, self.settings)
