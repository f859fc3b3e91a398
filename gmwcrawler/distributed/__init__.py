"""Distributed mode: one crawl shared by any number of workers through Redis.

Switched on by GMW_REDIS_URL. Built on scrapy-redis's queue and key conventions, and
fixes what they leave open: requests are leased, not popped (a killed worker loses
nothing), stored as allow-listed JSON (no pickle), enqueued and marked seen in one
atomic step, rate-limited per host across the cluster, and a run ends when the whole
cluster is idle — not when one worker is.
"""
