"""The cluster-wide rate as the site sees it: the most requests in any 1-second window of the replica's
own request log, 3 workers, this checkout against an earlier revision, side by side.

    .venv/bin/python -m bench.rate_windows REVISION [--repeats 2] [--articles 1000] [--rate 10]

Each tree crawls the same replica into the same redis-server with GMW_GLOBAL_RATE=rate, twice per
repeat: at the project's own concurrency (settings.py: 2 per host, 0.25 s delay, AutoThrottle) and at
16 per host without delay or AutoThrottle (what a worker tuned for speed sends). Reported per tree and
setting: the largest count over every window [t, t + 1 s) that starts at a request to a gmw.cn host, as
a multiple of the rate. A token bucket of burst 1 lets rate + 1 requests into some windows (a token
stored, then one per 1/rate), so at a rate of 10 the ideal is 1.1.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import uuid
from pathlib import Path

from bench import crawl
from tests.conftest import PYTHON

SETTINGS = {
    "deployed": {},
    "16 per host": {"CONCURRENT_REQUESTS_PER_DOMAIN": "16", "CONCURRENT_REQUESTS": "32", "DOWNLOAD_DELAY": "0",
                    "AUTOTHROTTLE_ENABLED": "0"},
}


def max_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)


def _cluster(replica, server, tree: Path, folder: Path, rate: float, settings: dict[str, str]) -> list[int]:
    folder.mkdir(parents=True)
    namespace = uuid.uuid4().hex[:8]
    base = {"GMW_REDIS_URL": server.url, "GMW_REDIS_NAMESPACE": namespace, "GMW_GLOBAL_RATE": str(rate),
            "GMW_IDLE_TIMEOUT": "2", "LOG_LEVEL": "WARNING", "GMW_SEEN_STORE": "memory", **settings}
    procs = []
    for n in range(3):
        command = [PYTHON, "-m", "scrapy", "crawl", "politics", "-a", "max_list_pages=3", "-a", "follow_related=0",
                   "-O", str(folder / f"items{n}.jsonl")]
        for key, value in base.items():
            command += ["-s", f"{key}={value}"]
        procs.append(subprocess.Popen(command, cwd=tree, env=replica.env(), stdout=subprocess.DEVNULL,
                                      stderr=(folder / f"log{n}").open("w")))
    return [p.wait(timeout=900) for p in procs]


def main(argv: list[str] | None = None) -> int:
    args = crawl.revision_arguments(__doc__, 2, argv)
    rate = 10.0
    results: dict[str, dict[str, list[float]]] = {}
    with crawl.side_by_side(args.revision, args.articles) as (work, trees, replica, server):
        for n in range(args.repeats):
            for label, settings in SETTINGS.items():
                for name in ("new", "old") if n % 2 == 0 else ("old", "new"):
                    start = len(replica.hitlog())
                    exits = _cluster(replica, server, trees[name], work / f"{name}-{label.replace(' ', '')}-{n}",
                                     rate, settings)
                    if exits != [0, 0, 0]:
                        raise RuntimeError(f"{name} workers exited {exits}")
                    times = [t for t, url in replica.hitlog()[start:] if ".gmw.cn" in url]
                    results.setdefault(name, {}).setdefault(label, []).append(round(max_window(times) / rate, 2))
    report = {"revision": args.revision, "rate": rate, "workers": 3, "max_1s_window_over_rate": results}
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
