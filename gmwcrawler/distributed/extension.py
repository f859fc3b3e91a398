"""The worker's side of a distributed run: acknowledge leases, renew them, recover expired
ones, send heartbeats, and end the worker when the whole run is finished."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet import task

from gmwcrawler import defaults
from gmwcrawler.signals import page_unreadable

from .connection import RedisPaused, RedisUnavailable
from .leases import check_worker
from .poller import running_poller
from .run import worker_id
from .scheduler import LeasedScheduler, close_spider
from .scripts import IDLE

logger = logging.getLogger(__name__)


class DistributedExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.idle_ms = int(defaults.get(self.settings, "GMW_IDLE_TIMEOUT") * 1000)
        self.interval = defaults.get(self.settings, "GMW_HEARTBEAT_INTERVAL")
        self.worker = worker_id(crawler)
        self.started = time.time()
        self.loop: task.LoopingCall | None = None
        self.poll: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.page_unreadable, signal=page_unreadable)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DistributedExtension:
        if not defaults.redis_url(crawler.settings):
            raise NotConfigured
        check_worker(crawler.settings)  # `scrapy crawl` checked it already; a crawl started otherwise has not
        return cls(crawler)

    @property
    def scheduler(self) -> LeasedScheduler:
        return self.crawler.engine.scheduler  # public since Scrapy 2.19 (setup.py: scrapy>=2.19)

    def spider_opened(self, spider: Any) -> None:
        scheduler = self.scheduler
        self._idle = scheduler.redis.register_script(IDLE)
        if scheduler.run_state == "finished":
            logger.warning("Run %s is finished; nothing to do (`scrapy gmw seed` starts a new run)", scheduler.run_id)
            close_spider(self.crawler, "run_already_finished")
            return
        logger.info("Worker %s joined run %s (%s)", self.worker, scheduler.run_id, scheduler.run_state)
        self.loop = task.LoopingCall(self.heartbeat)
        self.loop.start(self.interval, now=True)
        self.poll = task.LoopingCall(scheduler.wake)
        self.poll.start(scheduler.poll_interval, now=False)

    def page_unreadable(self, request: Request, response: Any, reason: str) -> None:
        """Its lease is acknowledged like any other; the request stays on the dead-letter list."""
        scheduler = self.scheduler
        entry = {"url": response.url, "reason": reason[:500], "worker": self.worker,
                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            scheduler.guard(scheduler.queue.dead_letter, entry, request)
        except RedisPaused as paused:  # kept once Redis is back
            paused.resumed().addCallbacks(lambda _: self.page_unreadable(request, response, reason),
                                          lambda failure: logger.error("Unreadable page %s not kept on %s: %s",
                                                                       response.url, scheduler.keys.failed,
                                                                       failure.getErrorMessage()))
        except RedisUnavailable as exc:
            logger.error("Unreadable page %s not kept on %s: %s", response.url, scheduler.keys.failed, exc)
        else:
            logger.warning("Unreadable page kept on %s: %s", scheduler.keys.failed, response.url)

    def heartbeat(self, state: str = "running") -> None:
        scheduler = self.scheduler
        try:
            scheduler.flush()
            scheduler.renew()
            scheduler.requeue_expired()
            stats = self.crawler.stats
            beat = {
                "worker": self.worker, "host": socket.gethostname(), "pid": os.getpid(), "run": scheduler.run_id,
                "state": state, "started": self.started, "last_seen": time.time(),
                "pages": stats.get_value("response_received_count", 0),
                "items": stats.get_value("item_scraped_count", 0),
                "dropped": stats.get_value("item_dropped_count", 0),
                "errors": stats.get_value("log_count/ERROR", 0),
                "leases": len(scheduler.held),
            }
            scheduler.guard(scheduler.redis.hset, scheduler.keys.workers, self.worker, json.dumps(beat))
        except (RedisUnavailable, RedisPaused):
            pass  # the next beat tries again; a Redis given up ends the worker (the scheduler)

    def spider_idle(self, spider: Any) -> None:
        scheduler = self.scheduler
        if scheduler.closing or scheduler.run_state == "finished":
            return
        if getattr(getattr(spider, "options", None), "watch", 0):
            raise DontCloseSpider  # a watching worker waits for work until it is stopped: the run never finishes
        try:
            scheduler.flush()
            scheduler.requeue_expired()
            state = scheduler.guard(self._idle, keys=[scheduler.keys.queue, scheduler.keys.leases,
                                                      scheduler.keys.idle_since, scheduler.keys.run, scheduler.keys.clock],
                                    args=[self.idle_ms]).decode()
        except RedisPaused:
            raise DontCloseSpider from None  # whether the run is over is for Redis to say, once back
        except RedisUnavailable:
            return
        if state == "finished":
            logger.info("Run %s is finished: shared queue empty and no leases for %.0f s", scheduler.run_id,
                        self.idle_ms / 1000)
            return  # let the spider close
        raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        poller = running_poller(self.crawler)
        if poller is not None:
            poller.release()
        if self.poll is not None and self.poll.running:
            self.poll.stop()
        if self.loop is not None and self.loop.running:
            self.loop.stop()
            self.heartbeat(state=f"closed:{reason}")
