"""A simulated stretch of a day on the replica, side by side in one run (issue #13): what a crawl
on a 15-minute timer costs the site per new article, before and after the request economy, and
how soon watch mode stores a new article.

    .venv/bin/python -m bench.simulated_day [--before 802d91f] [--ticks 24] [--tick-seconds 6]

The clock is compressed: one tick (`--tick-seconds` real seconds) stands for the timer's 15
minutes, and every schedule is scaled alike (the old GMW_REFRESH_WINDOW of 6 h, the new
GMW_REFRESH_SCHEDULE of 15 min, 1 h, 3 h, 6 h). Each tick the replica publishes `--per-tick`
articles (gmw's 时政 channel publishes ~150 a day: 1.6 per 15 minutes) halfway through, and every
4th tick corrects an article published two ticks before. Three modes, each on a fresh replica
(same seed) after one full crawl that is not counted:

- before: the revision before issue #13 (a git worktree), one run per tick;
- after: this checkout, one run per tick;
- watch: this checkout, one process with `-a watch=POLL`, for the same ticks.

Delays are publication-to-store, in real seconds and as a share of the timer period (tick) or
the poll interval.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from gmwcrawler.extensions import nearest_rank
from tests.conftest import FAST, ROOT, crawl_command, start_replica, stop_replica

SCHEDULE = (900, 3600, 3 * 3600, 6 * 3600)  # GMW_REFRESH_SCHEDULE's default, seconds
WINDOW = 6 * 3600  # GMW_REFRESH_WINDOW before issue #13
TIMER = 900


def _delays(items: list[dict]) -> list[float]:
    """Of each article's first item (the revision before issue #13 has no `version`: its
    corrections come out as items again)."""
    out, seen = [], set()
    for item in items:
        if item.get("version", 1) != 1 or item["url"] in seen:
            continue
        seen.add(item["url"])
        stored = datetime.fromisoformat(item["crawled_at"]).timestamp()
        out.append(max(0.0, stored - datetime.fromisoformat(item["publish_time"]).timestamp()))
    return out


def _quantile(values: list[float], q: float) -> float | None:
    return round(nearest_rank(sorted(values), q), 2) if values else None  # as the run report computes it


class Day:
    def __init__(self, replica, ticks: int, per_tick: int, tick_seconds: float) -> None:
        self.replica, self.ticks, self.per_tick, self.tick_seconds = replica, ticks, per_tick, tick_seconds
        self.published: list[list[str]] = []

    def tick(self, number: int) -> None:
        time.sleep(self.tick_seconds / 2)
        self.published.append(json.loads(self.replica.get(f"/__replica__/publish?count={self.per_tick}")))
        if number % 4 == 3 and len(self.published) >= 3:
            self.replica.get(f"/__replica__/edit?url={self.published[-3][0]}")
        time.sleep(self.tick_seconds / 2)

    def hits(self) -> dict[str, int]:
        return self.replica.hits()


def _crawl(tree: Path, replica, folder: Path, settings: dict, args: tuple[str, ...] = ()) -> tuple[list[dict], dict]:
    folder.mkdir(parents=True, exist_ok=True)
    out, stats = folder / "items.jsonl", folder / "stats.json"
    env = {**replica.env(), "PYTHONPATH": str(tree)}
    subprocess.run(crawl_command(out, stats, args, {**FAST, **settings}), cwd=tree, env=env, capture_output=True,
                   timeout=600, check=False)
    items = [json.loads(line) for line in out.read_text("utf-8").splitlines()] if out.exists() else []
    return items, json.loads(stats.read_text("utf-8")) if stats.exists() else {}


def _totals(name: str, day: Day, before: dict[str, int], stats: list[dict], items: list[dict], unit: float) -> dict:
    after = day.hits()
    requests = sum(after.values()) - sum(before.values())
    new = sum(len(batch) for batch in day.published)
    responses = sum(s.get("response_received_count", 0) for s in stats)
    delays = _delays(items)
    return {
        "mode": name, "new_articles": new, "stored_new": len(delays), "requests": requests,
        "requests_per_new_article": round(requests / max(1, new), 2),
        "bytes": sum(s.get("downloader/response_bytes", 0) for s in stats),
        "share_304": round(sum(s.get("downloader/response_status_count/304", 0) for s in stats) / max(1, responses), 3),
        "delay_p50_s": _quantile(delays, 0.5), "delay_p95_s": _quantile(delays, 0.95),
        "delay_p95_per_unit": round(_quantile(delays, 0.95) / unit, 2) if delays else None, "unit_s": unit,
    }


def timer_mode(name: str, tree: Path, settings: dict, work: Path, args: argparse.Namespace) -> dict:
    replica = start_replica("--articles", str(args.articles), "--seed", "11", "--no-faults")
    try:
        store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(work / name / "seen.sqlite3"), **settings}
        _crawl(tree, replica, work / name / "full", store)
        day = Day(replica, args.ticks, args.per_tick, args.tick_seconds)
        before, stats, items = day.hits(), [], []
        for number in range(args.ticks):
            day.tick(number)
            got, final = _crawl(tree, replica, work / name / f"tick{number}", store)
            items += got
            stats.append(final)
        result = _totals(name, day, before, stats, items, args.tick_seconds)
        quiet = day.hits()
        _crawl(tree, replica, work / name / "nothing-new", store)  # the next run, nothing published since
        result["requests_with_nothing_new"] = sum(day.hits().values()) - sum(quiet.values())
        return result
    finally:
        stop_replica(replica)


def watch_mode(work: Path, args: argparse.Namespace, scaled: dict) -> dict:
    replica = start_replica("--articles", str(args.articles), "--seed", "11", "--no-faults")
    try:
        store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(work / "watch" / "seen.sqlite3"), **scaled}
        _crawl(ROOT, replica, work / "watch" / "full", store)
        day = Day(replica, args.ticks, args.per_tick, args.tick_seconds)
        before = day.hits()
        folder = work / "watch" / "day"
        folder.mkdir(parents=True)
        command = crawl_command(folder / "items.jsonl", folder / "stats.json", (f"watch={args.poll}",), {**FAST, **store})
        process = subprocess.Popen(command, cwd=ROOT, env=replica.env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        for number in range(args.ticks):
            day.tick(number)
        time.sleep(args.poll * 2)  # the last articles' poll
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        items = [json.loads(line) for line in (folder / "items.jsonl").read_text("utf-8").splitlines()]
        stats = json.loads((folder / "stats.json").read_text("utf-8"))
        result = _totals("watch", day, before, [stats], items, args.poll)
        result["exit"] = process.returncode
        return result
    finally:
        stop_replica(replica)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="802d91f", help="the revision before issue #13")
    parser.add_argument("--ticks", type=int, default=24)
    parser.add_argument("--per-tick", type=int, default=2)
    parser.add_argument("--tick-seconds", type=float, default=6.0)
    parser.add_argument("--poll", type=int, default=10, help="watch mode's poll interval, seconds")
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "simulated_day.json")
    args = parser.parse_args(argv)
    scale = TIMER / args.tick_seconds
    scaled = {"GMW_REFRESH_SCHEDULE": ",".join(f"{s / scale:g}" for s in SCHEDULE)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = work / "before-tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            rows = [timer_mode("before", old, {"GMW_REFRESH_WINDOW": f"{WINDOW / scale:g}"}, work, args),
                    timer_mode("after", ROOT, scaled, work, args),
                    watch_mode(work, args, scaled)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    print(f"{args.ticks} ticks of {args.tick_seconds:g} s (= 15 min), {args.per_tick} new per tick, "
          f"watch polls every {args.poll} s")
    print("| mode | new | requests | per new article | bytes | 304 share | delay p50 / p95 (s) | p95 per timer or poll period |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['stored_new']}/{r['new_articles']} | {r['requests']} | {r['requests_per_new_article']} | "
              f"{r['bytes']:,} | {r['share_304']:.0%} | {r['delay_p50_s']} / {r['delay_p95_s']} | {r['delay_p95_per_unit']} |")
    for r in rows:
        if "requests_with_nothing_new" in r:
            print(f"{r['mode']}: a run with nothing new made {r['requests_with_nothing_new']} requests (robots.txt included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
