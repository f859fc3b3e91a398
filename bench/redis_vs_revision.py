"""Redis-mode CPU, this checkout against an earlier revision, in one run (issue #15: "the Redis-mode
CPU ratio in bench/ stays within 5 % of today's").

    .venv/bin/python -m bench.redis_vs_revision e410ff6 [--repeats 7] [--articles 1000]

Both trees crawl the same replica (no faults) into the same redis-server, the single-machine and
the Redis-mode crawl each, interleaved (new first in even repeats, old first in odd ones), so a slow
moment of the machine hits both alike. Reported: each tree's Redis/single ratio (the figure of
bench/README.md's CPU table) and the paired ratio of the two trees' Redis-mode CPU.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bench import crawl
from tests.conftest import FAST, crawl_command


def _crawl(replica, folder: Path, settings: dict, tree: Path) -> float:
    folder.mkdir(parents=True)
    command = crawl_command(folder / "items.jsonl", folder / "stats.json", (), {**FAST, **crawl.SAME, **settings})
    result = crawl._run(command, replica.env(), tree)
    if result["exit"] != 0:
        raise RuntimeError(f"crawl in {tree} exited {result['exit']}")
    return result["cpu_s"]


def main(argv: list[str] | None = None) -> int:
    args = crawl.revision_arguments(__doc__, 7, argv)
    runs: dict[str, list[tuple[float, float]]] = {"new": [], "old": []}
    with crawl.side_by_side(args.revision, args.articles) as (work, trees, replica, server):
        for n in range(args.repeats):
            for name in ("new", "old") if n % 2 == 0 else ("old", "new"):
                single = _crawl(replica, work / f"{name}-single{n}", {"GMW_SEEN_STORE": "memory"}, trees[name])
                redis = _crawl(replica, work / f"{name}-redis{n}", {
                    "GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0", "GMW_IDLE_TIMEOUT": "1",
                    "GMW_REDIS_NAMESPACE": uuid.uuid4().hex}, trees[name])
                runs[name].append((single, redis))
                print(f"{name} {n}: single {single:.2f} s, redis {redis:.2f} s, ratio {redis / single:.3f}",
                      flush=True)
    out = {}
    for name, pairs in runs.items():
        ratios = sorted(r / s for s, r in pairs)
        out[name] = {"redis_to_single": round(crawl.median(ratios), 3), "range": [round(ratios[0], 3), round(ratios[-1], 3)],
                     "redis_cpu_s": round(crawl.median([r for _, r in pairs]), 2)}
    paired = sorted(n[1] / o[1] for n, o in zip(runs["new"], runs["old"], strict=True))
    out["redis_cpu_new_to_old"] = {"median": round(crawl.median(paired), 3), "range": [round(paired[0], 3), round(paired[-1], 3)]}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
