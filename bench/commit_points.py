"""What delivery after the store costs: CPU and items/s of this checkout against an earlier revision, with
the PostgreSQL sink on, single-machine (SQLite seen-store) and Redis mode, in one run.

    .venv/bin/python -m bench.commit_points ef7ea73 [--repeats 5] [--articles 1000]

This checkout commits each PostgreSQL batch before its items count as scraped (group commit, in a thread),
writes local feeds through per item, and confirms deliveries and the backlog in the seen-store; the earlier
revision buffered rows in memory and wrote on the reactor thread. Both trees crawl the same replica (no
faults, politeness off) into a fresh database each crawl, interleaved (new first in even repeats, old first
in odd ones), so a slow moment of the machine hits both alike. Reported per mode and tree: the crawl
process's CPU seconds (os.wait4), items stored per second of the crawl's wall time, and the paired ratios.
Needs PostgreSQL (GMW_TEST_POSTGRES_DSN names the server, as for the tests).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import psycopg

from bench import crawl
from tests.conftest import FAST, crawl_command

SERVER = os.environ.get("GMW_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _crawl(replica, folder: Path, settings: dict, tree: Path) -> tuple[float, float]:
    """(CPU seconds, items stored per second) of one crawl into a database of its own."""
    name = f"gmw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        folder.mkdir(parents=True)
        dsn = SERVER.rpartition("/")[0] + "/" + name
        command = crawl_command(folder / "items.jsonl", folder / "stats.json", (),
                                {**FAST, **crawl.SAME, "GMW_POSTGRES_DSN": dsn, "GMW_STATE_DIR": str(folder), **settings})
        result = crawl._run(command, replica.env(), tree)
        if result["exit"] != 0:
            raise RuntimeError(f"crawl in {tree} exited {result['exit']}")
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT count(*) FROM gmw_articles").fetchone()[0]
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return result["cpu_s"], rows / result["wall_s"]


def main(argv: list[str] | None = None) -> int:
    args = crawl.revision_arguments(__doc__, 5, argv)
    modes = ("single", "redis")
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {(t, m): [] for t in ("new", "old") for m in modes}
    with crawl.side_by_side(args.revision, args.articles) as (work, trees, replica, server):
        settings = {"single": {"GMW_SEEN_STORE": "sqlite"},
                    "redis": {"GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0", "GMW_IDLE_TIMEOUT": "1"}}
        for n in range(args.repeats):
            for name in ("new", "old") if n % 2 == 0 else ("old", "new"):
                for mode in modes:
                    cpu, rate = _crawl(replica, work / f"{name}-{mode}{n}",
                                       {**settings[mode], "GMW_REDIS_NAMESPACE": uuid.uuid4().hex}, trees[name])
                    runs[(name, mode)].append((cpu, rate))
                    print(f"{name} {mode} {n}: {cpu:.2f} s CPU, {rate:.1f} items/s", flush=True)
    out: dict = {"revision": args.revision, "articles": args.articles, "repeats": args.repeats}
    for mode in modes:
        new, old_runs = runs[("new", mode)], runs[("old", mode)]
        cpu = sorted(a[0] / b[0] for a, b in zip(new, old_runs, strict=True))
        rate = sorted(a[1] / b[1] for a, b in zip(new, old_runs, strict=True))
        out[mode] = {
            "cpu_s": {"new": round(crawl.median([r[0] for r in new]), 2), "old": round(crawl.median([r[0] for r in old_runs]), 2)},
            "items_per_s": {"new": round(crawl.median([r[1] for r in new]), 1),
                            "old": round(crawl.median([r[1] for r in old_runs]), 1)},
            "cpu_new_to_old": {"median": round(crawl.median(cpu), 3), "range": [round(cpu[0], 3), round(cpu[-1], 3)]},
            "items_per_s_new_to_old": {"median": round(crawl.median(rate), 3), "range": [round(rate[0], 3), round(rate[-1], 3)]},
        }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
