"""When watch mode (`-a watch=SECONDS`) polls the listings: on one machine, every interval; in a cluster,
when this worker holds the poller lease and the cluster's last poll is an interval old
(gmwcrawler.distributed.poller), so that one worker polls however many watch."""

from __future__ import annotations

import asyncio

from scrapy.crawler import Crawler

from gmwcrawler import defaults
from gmwcrawler.distributed.poller import Poller, poller_for


class LocalTurns:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.first = True

    async def wait(self) -> None:
        """Returns when it is time to poll: at once the first time, then every interval."""
        if self.first:
            self.first = False
            return
        await asyncio.sleep(self.interval)


class ClusterTurns:
    def __init__(self, poller: Poller) -> None:
        self.poller = poller

    async def wait(self) -> None:
        while not self.poller.turn():
            await asyncio.sleep(self.poller.check)


def poll_turns(crawler: Crawler, interval: float) -> LocalTurns | ClusterTurns:
    if defaults.redis_url(crawler.settings):
        return ClusterTurns(poller_for(crawler, interval))
    return LocalTurns(interval)
