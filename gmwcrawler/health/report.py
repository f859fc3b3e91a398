"""The run's report and its verdict (the checks of gmwcrawler.health.checks), the stats file, and where
reports are written."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from twisted.internet import task

from gmwcrawler import defaults
from gmwcrawler.distributed.connection import RedisPaused, RedisUnavailable, for_crawler
from gmwcrawler.distributed.keys import Keys
from gmwcrawler.distributed.poller import last_poll, running_poller
from gmwcrawler.distributed.run import status as run_status
from gmwcrawler.extract.text import parse_publish_time
from gmwcrawler.health import checks, drift, metrics
from gmwcrawler.incremental.crawl_store import sqlite_path
from gmwcrawler.signals import page_unreadable
from gmwcrawler.state import state_path

logger = logging.getLogger(__name__)


class StatsFile:
    """Write the crawl's final stats as JSON to GMW_STATS_FILE (monitoring, tests).

    Written on spider_closed, after Scrapy's own stats are final; values that JSON
    cannot hold (datetimes) are written as ISO 8601 strings.
    """

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        path = defaults.get(crawler.settings, "GMW_STATS_FILE")
        if not path:
            raise NotConfigured  # no message: Scrapy would log a warning on every run
        ext = cls(crawler, Path(path))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(stats, default=str, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
        logger.info("Stats written to %s", self.path)


class RunReport:
    """At the end of every run, a JSON report of what it did: written next to the
    feed (`<feed>.report.json`, or GMW_REPORT_FILE), and in distributed mode also kept in
    Redis for the last GMW_REPORTS_KEEP runs (`scrapy gmw status` reads them).

    It also judges the run, by the checks of gmwcrawler.health.checks (no article seen, an error rate above
    GMW_MAX_ERROR_RATE, promised requests not asked, markup drift …): a failing verdict is an ERROR line,
    and `scrapy crawl` exits 1 so a timer or monitor notices (GMW_FAIL_ON_DRIFT decides it for drift).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.keep = defaults.get(crawler.settings, "GMW_REPORTS_KEEP")
        self.unreadable: list[dict[str, str]] = []  # pages kept for inspection
        self.delays: list[float] = []  # seconds from publication to store, of the run's new articles
        self.metrics_loop: task.LoopingCall | None = None
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.page_unreadable, signal=page_unreadable)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        # long-running processes (watch mode, Redis workers) show their progress as they go
        interval = defaults.get(self.crawler.settings, "GMW_METRICS_INTERVAL")
        if metrics.enabled(self.crawler.settings) and interval > 0:
            self.metrics_loop = task.LoopingCall(self.publish_progress)
            self.metrics_loop.start(interval, now=True)

    def publish_progress(self) -> None:
        metrics.publish(self.report("running"), self.crawler.settings, self.delays)

    def page_unreadable(self, request: Request, response: Response, reason: str) -> None:
        if len(self.unreadable) < 100:  # the report lists the first 100; the stats count all of them
            self.unreadable.append({"url": response.url, "reason": reason[:500]})

    def item_scraped(self, item: Any) -> None:
        adapter = ItemAdapter(item)
        if adapter.get("version", 1) != 1:
            return
        published = parse_publish_time(adapter.get("publish_time") or "")
        if published is not None:
            self.delays.append(max(0.0, time.time() - published.timestamp()))

    def freshness(self) -> dict:
        """Publication-to-store delay of the run's new articles, in seconds (p50, p95; nearest rank)."""
        delays = sorted(self.delays)
        if not delays:
            return {"new_articles": 0, "delay_p50_s": None, "delay_p95_s": None}

        return {"new_articles": len(delays), "delay_p50_s": round(nearest_rank(delays, 0.5), 1),
                "delay_p95_s": round(nearest_rank(delays, 0.95), 1)}

    def report(self, reason: str) -> dict:
        run = self._run(reason)
        stats = run.stats
        verdict, message = checks.verdict(run)
        failed, pages, error_rate, sum_of = run.failed, run.pages, run.error_rate, run.sum_of
        return {
            "spider": self.crawler.spider.name if self.crawler.spider else None,
            "run": stats.get("gmw/run/id"),
            "worker": f"{socket.gethostname()}:{os.getpid()}",
            "start": _iso(stats.get("start_time")),
            "end": _iso(stats.get("finish_time")) or datetime.now(UTC).isoformat(timespec="seconds"),
            "finish_reason": reason,
            "verdict": verdict,
            "message": message,
            "pages": pages,
            "requests": stats.get("downloader/request_count", 0),
            "items_stored": stats.get("item_scraped_count", 0),
            "articles_seen": run.articles_seen,
            "skipped_already_stored": stats.get("gmw/incremental/skipped_stored", 0),
            # request economy
            "revisits": {"refreshed": stats.get("gmw/incremental/refresh", 0),
                         "refresh_not_modified": stats.get("gmw/refresh/not_modified", 0),
                         "skipped_failed": stats.get("gmw/incremental/skipped_failed", 0),
                         "retried_failed": stats.get("gmw/incremental/retry_failed", 0),
                         "listing_pages": stats.get("gmw/listing/pages", 0),
                         "listing_not_modified": stats.get("gmw/listing/not_modified", 0),
                         "listings_stopped_at_known": stats.get("gmw/listing/stopped_at_known", 0),
                         "not_modified": stats.get("gmw/http/not_modified", 0)},
            "freshness": self.freshness(),
            # listed (or linked, or the next listing page) and without an outcome yet: what a stopped run left
            "backlog": {"at_start": stats.get("gmw/backlog/at_start", 0), "at_end": stats.get("gmw/backlog/at_end"),
                        "not_attempted": stats.get("gmw/backlog/not_attempted")},
            "dropped": sum_of("gmw/dropped/"),
            "decisions": sum_of("gmw/dedupe/"),  # the seen-store's verdicts: new, updated, unchanged, duplicate_*
            "duplicates": sum(v for k, v in sum_of("gmw/dedupe/").items() if k not in ("new", "updated")),
            "updated": stats.get("gmw/dedupe/updated", 0),
            "retries": stats.get("retry/count", 0),
            "errors": {**failed, "log_errors": stats.get("log_count/ERROR", 0)},
            "error_rate": round(error_rate, 4),
            "unreadable": self.unreadable,
            "extraction": drift.counts_from_stats(stats),
            # the pages read by the generic routes too, and the fields they read otherwise than the template
            "extraction_check": {"pages": stats.get("gmw/extract_check/pages", 0),
                                 "disagree": {k.split("/")[0]: v for k, v in sum_of("gmw/extract_check/").items()
                                              if k.endswith("/disagree")}},
            # what the site asked for: pauses (429/503 Retry-After or backoff) and each host's robots.txt answer
            "politeness": {"site_pauses": stats.get("gmw/site/pauses", 0),
                           "paused_requests": stats.get("gmw/site/paused_requests", 0),
                           "longest_pause_s": stats.get("gmw/site/pause_max_s", 0),
                           "robots": {k[len("gmw/robots/"):]: v for k, v in sorted(stats.items())
                                      if k.startswith("gmw/robots/")}},
            "drift": [],
            **({"ratelimit_delayed": stats.get("gmw/ratelimit/delayed", 0), "redis": self._redis_status()}
               if self.distributed else {}),
            **({"watch": self._watch_status(stats)} if self.watching else {}),
        }

    def _run(self, reason: str) -> checks.Run:
        return checks.Run(self.crawler.stats.get_stats(), reason, self.crawler.settings, self.distributed,
                          watch_ended(self.crawler, reason))

    @property
    def watching(self) -> int:
        return getattr(getattr(self.crawler.spider, "options", None), "watch", 0)

    def _watch_status(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Who polls the listings and when the last poll was: in a cluster, the cluster's (from Redis)."""
        interval = self.watching
        poller = running_poller(self.crawler) if self.distributed else None
        if poller is None:  # one machine (or a worker whose spider has not asked yet)
            at = stats.get("gmw/watch/last_poll_at")
            return {"interval_s": interval, "polls": stats.get("gmw/watch/polls", 0), "polling": not self.distributed,
                    "poller": None, "last_poll_at": at}
        client, guard = for_crawler(self.crawler)
        try:
            last = last_poll(client, guard, self._keys())
        except (RedisUnavailable, RedisPaused):
            last = None
        return {"interval_s": interval, "polls": stats.get("gmw/watch/polls", 0), "polling": poller.holds,
                "poller": poller.holder, "last_poll_at": last.at if last else None}

    def _redis_status(self) -> dict[str, int] | None:
        """The shared queue and the run's workers, as `scrapy gmw status` shows them; None if Redis is unreachable."""
        client, guard = for_crawler(self.crawler)
        try:
            status = guard(run_status, client, self._keys())
        except (RedisUnavailable, RedisPaused):
            return None
        return {"queued": status["queued"], "leased": status["leased"],
                "workers_alive": sum(1 for w in status["workers"] if w["alive"])}

    def _keys(self) -> Keys:
        return Keys.of(self.crawler.settings, self.crawler.spidercls.name)

    @property
    def distributed(self) -> bool:
        return bool(defaults.redis_url(self.crawler.settings))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.metrics_loop is not None and self.metrics_loop.running:
            self.metrics_loop.stop()
        report = self.report(reason)
        if reason == "finished":
            self._judge_drift(report)
        self.crawler.stats.set_value("gmw/run/verdict", report["verdict"])
        write_report(report, self.crawler.settings, self.crawler.spidercls.name)
        if self.distributed:
            self._keep_in_redis(report)
        metrics.publish(report, self.crawler.settings, self.delays, passed=not fails(report["verdict"], self.crawler.settings))
        if fails(report["verdict"], self.crawler.settings):
            logger.error("Run check failed (%s): %s", report["verdict"], report["message"])
        elif report["verdict"] != "ok":
            logger.error("Run check: %s (GMW_FAIL_ON_DRIFT is off: exit status 0)", report["message"])

    def _history(self) -> drift.FileHistory | drift.RedisHistory | None:
        """Where the earlier runs' extraction paths are kept: beside the seen-store."""
        settings = self.crawler.settings
        keep = max(1, defaults.get(settings, "GMW_DRIFT_HISTORY"))
        if self.distributed:
            client, guard = for_crawler(self.crawler)
            key = self._keys().extraction
            return drift.RedisHistory(client, guard, key, keep)
        if defaults.get(settings, "GMW_SEEN_STORE") != "sqlite":
            return None  # a memory seen-store starts every run from nothing: so does the history
        path = sqlite_path(settings)
        return drift.FileHistory(path.with_name(f"{path.stem}.extraction-{self.crawler.spidercls.name}.json"), keep)

    def _judge_drift(self, report: dict) -> None:
        errors: tuple[type[Exception], ...] = (OSError, RedisUnavailable, RedisPaused)
        counts = report["extraction"]
        history = self._history()
        if history is None or not counts:
            return
        settings = self.crawler.settings
        try:
            runs = history.load()
            found = drift.judge(counts, runs, defaults.get(settings, "GMW_DRIFT_THRESHOLD"),
                                defaults.get(settings, "GMW_DRIFT_MIN_ARTICLES"))
            history.append(counts, runs)
        except errors as exc:
            logger.warning("Extraction paths not compared with earlier runs: %s", exc)
            return
        report["drift"] = [d.as_dict() for d in found]
        for d in found:
            self.crawler.stats.set_value(f"gmw/drift/{d.field}/{d.path}", round(d.share, 3))
        message = checks.DRIFT.message(dataclasses.replace(self._run("finished"), drift=tuple(found)))
        if message is not None and report["verdict"] == "ok":
            report["verdict"], report["message"] = checks.DRIFT.verdict, message

    def _keep_in_redis(self, report: dict) -> None:
        client, guard = for_crawler(self.crawler)
        keys = self._keys()
        try:
            pipe = client.pipeline(transaction=True)
            pipe.lpush(keys.reports, json.dumps(report, ensure_ascii=False))
            pipe.ltrim(keys.reports, 0, self.keep - 1)
            guard(pipe.execute)
        except (RedisUnavailable, RedisPaused) as exc:
            logger.error("Run report not kept in Redis: %s", exc)


def watch_ended(crawler: Crawler, reason: str) -> bool:
    """A watch-mode run (-a watch=SECONDS) ended by a signal: that is its normal end."""
    options = getattr(crawler.spider, "options", None)
    return reason == "shutdown" and bool(getattr(options, "watch", 0))


def nearest_rank(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, nearest rank (an observed value, as delays are reported)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def fails(verdict: str | None, settings: BaseSettings) -> bool:
    """Whether a run with this verdict exits 1 (`scrapy crawl`, gmwcrawler.commands.crawl)."""
    if verdict == "drift":
        return defaults.get(settings, "GMW_FAIL_ON_DRIFT")
    return verdict not in (None, "ok")


def report_paths(settings: BaseSettings, spider: str) -> list[Path]:
    """GMW_REPORT_FILE; else next to each local feed; else, so that every run leaves one (a scrapyd
    job without items_dir, `scrapy crawl` without -O), `reports/` in the state directory."""
    explicit = defaults.get(settings, "GMW_REPORT_FILE")
    if explicit:
        return [Path(explicit)]
    paths = []
    for uri in settings.getdict("FEEDS"):
        uri = str(uri)
        if "://" not in uri or uri.startswith("file://"):
            local = Path(uri.removeprefix("file://"))
            if "%(" not in local.name:
                paths.append(local.with_name(local.name + ".report.json"))
    if not paths:
        # scrapyd names its jobs (SCRAPY_JOB); elsewhere the start time and process id do
        stamp = os.environ.get("SCRAPY_JOB") or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"
        paths.append(state_path(settings, "reports", f"{spider}-{stamp}.json"))
    return paths


def write_report(report: dict, settings: BaseSettings, spider: str, quiet: bool = False) -> None:
    keep = max(1, defaults.get(settings, "GMW_REPORTS_KEEP"))
    own = state_path(settings, "reports")
    for path in report_paths(settings, spider):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
        except OSError as exc:
            if not quiet:
                logger.error("Run report not written to %s: %s", path, exc.strerror or exc)
            continue
        logger.info("Run report written to %s", path)
        if path.parent == own:  # reports/ of the state directory: the newest GMW_REPORTS_KEEP stay
            for stale in sorted(own.glob(f"{spider}-*.json"), key=lambda p: p.stat().st_mtime)[:-keep]:
                stale.unlink(missing_ok=True)


def _iso(value: object) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else None
