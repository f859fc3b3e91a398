"""Redis memory per seen URL: scrapy-redis's fingerprint set against gmwcrawler's stores.

Starts its own redis-server on a free port, adds N request fingerprints (40 hex digits,
as scrapy-redis stores them) to each store, reads MEMORY USAGE, and measures the Bloom
filter's false-positive rate on N/10 fingerprints it never saw.

    .venv/bin/python -m bench.fingerprint_memory [--urls 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import redis

from gmwcrawler.distributed.fingerprints import BloomParams
from tests.conftest import RedisServer, free_port, redis_binary

BATCH = 10_000


def fingerprint(i: int, salt: str = "") -> str:
    return hashlib.sha1(f"{salt}https://politics.gmw.cn/2026-11/20/content_{i}.htm".encode()).hexdigest()


def measure(n: int = 1_000_000, error_rate: float = 0.0001) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(redis_binary(), free_port(), Path(folder))
        server.start()
        try:
            r = redis.Redis(port=server.port)
            r.config_set("appendonly", "no")
            bloom = BloomParams.for_capacity(n, error_rate)
            for start in range(0, n, BATCH):
                pipe = r.pipeline(transaction=False)
                for i in range(start, min(n, start + BATCH)):
                    fp = fingerprint(i)
                    pipe.sadd("scrapy_redis_set", fp)  # scrapy_redis.dupefilter.RFPDupeFilter
                    pipe.hset("gmw_hops_hash", fp, 0)  # gmwcrawler GMW_DUPEFILTER=set (fingerprint -> hop count)
                    for offset in bloom.offsets(fp):
                        pipe.setbit("gmw_bloom", offset, 1)  # gmwcrawler GMW_DUPEFILTER=bloom
                pipe.execute()
            usage = {key: r.memory_usage(key, samples=0) for key in ("scrapy_redis_set", "gmw_hops_hash", "gmw_bloom")}
            probes = n // 10
            false_positives = 0
            for start in range(0, probes, BATCH):
                pipe = r.pipeline(transaction=False)
                batch = [fingerprint(i, salt="unseen/") for i in range(start, min(probes, start + BATCH))]
                for fp in batch:
                    for offset in bloom.offsets(fp):
                        pipe.getbit("gmw_bloom", offset)
                bits = pipe.execute()
                for j in range(len(batch)):
                    false_positives += all(bits[j * bloom.hashes:(j + 1) * bloom.hashes])
            r.close()
        finally:
            server.stop()
    base = usage["scrapy_redis_set"] / n
    report = {
        "urls": n,
        "bytes_per_url": {k: round(v / n, 2) for k, v in usage.items()},
        "ratio_to_scrapy_redis_set": {k: round(v / n / base, 3) for k, v in usage.items()},
        "bloom": {"bits": bloom.bits, "hashes": bloom.hashes, "target_error_rate": error_rate,
                  "measured_false_positive_rate": false_positives / probes, "probes": probes},
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.0001)
    args = parser.parse_args()
    print(json.dumps(measure(args.urls, args.error_rate), indent=1))


if __name__ == "__main__":
    main()
