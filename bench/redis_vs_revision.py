"""Redis-mode CPU, this checkout against an earlier revision, in one run (issue #15: "the Redis-mode
CPU ratio in bench/ stays within 5 % of today's").

    .venv/bin/python -m bench.redis_vs_revision e410ff6 [--repeats 7] [--articles 1000]

Both trees crawl the same replica (no faults) into the same redis-server, the single-machine and
the Redis-mode crawl each, interleaved (new first in even repeats, old first in odd ones), so a slow
moment of the machine hits both alike. Reported: each tree's Redis/single ratio (the figure of
bench/README.md's CPU table) and the paired ratio of the two trees' Redis-mode CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
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


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--articles", type=int, default=1000)
    args = parser.parse_args(argv)
    runs: dict[str, list[tuple[float, float]]] = {"new": [], "old": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = work / "old-tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.revision], cwd=crawl.ROOT, check=True,
                       capture_output=True)
        trees = {"new": crawl.ROOT, "old": old}
        try:
            (work / "services").mkdir()
            with crawl._replica_and_redis(work / "services", "--articles", str(args.articles), "--seed", "11") as (
                    replica, server):
                for n in range(args.repeats):
                    for name in ("new", "old") if n % 2 == 0 else ("old", "new"):
                        single = _crawl(replica, work / f"{name}-single{n}", {"GMW_SEEN_STORE": "memory"}, trees[name])
                        redis = _crawl(replica, work / f"{name}-redis{n}", {
                            "GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0", "GMW_IDLE_TIMEOUT": "1",
                            "GMW_REDIS_NAMESPACE": uuid.uuid4().hex}, trees[name])
                        runs[name].append((single, redis))
                        print(f"{name} {n}: single {single:.2f} s, redis {redis:.2f} s, ratio {redis / single:.3f}",
                              flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=crawl.ROOT, check=False)
    out = {}
    for name, pairs in runs.items():
        ratios = sorted(r / s for s, r in pairs)
        out[name] = {"redis_to_single": round(_median(ratios), 3), "range": [round(ratios[0], 3), round(ratios[-1], 3)],
                     "redis_cpu_s": round(_median([r for _, r in pairs]), 2)}
    paired = sorted(n[1] / o[1] for n, o in zip(runs["new"], runs["old"], strict=True))
    out["redis_cpu_new_to_old"] = {"median": round(_median(paired), 3), "range": [round(paired[0], 3), round(paired[-1], 3)]}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
