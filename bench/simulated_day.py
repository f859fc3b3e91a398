"""A simulated day on the replica, side by side in one run (issues #13 and #28): what a crawl on a
15-minute timer costs the site per new article, and how soon watch mode — on one machine, and three
Redis workers of which the polling one is killed with kill -9 halfway — stores a new article.

    .venv/bin/python -m bench.simulated_day [--ticks 96] [--tick-seconds 3] [--before REV]

The clock is compressed: one tick (`--tick-seconds` real seconds) stands for the timer's 15
minutes, and every schedule is scaled alike (GMW_REFRESH_SCHEDULE's 15 min, 1 h, 3 h, 6 h;
GMW_FAILED_RETRY_SCHEDULE's 1 h, 6 h, 24 h; the old GMW_REFRESH_WINDOW of 6 h). 96 ticks are 24
hours, so every refresh step of the day's articles comes due. Each tick the replica publishes
`--per-tick` articles (gmw's 时政 channel publishes ~150 a day: 1.6 per 15 minutes) halfway through,
and every 4th tick corrects an article published two ticks before. The replica serves its fault
pages (404, soft 404, 503, …), so failed pages and their backoff are in the counts. Each mode runs on
a fresh replica (same seed) after one full crawl that is not counted:

- before (only with `--before REV`): that revision, in a git worktree, one run per tick;
- timer: this checkout, one run per tick;
- watch: this checkout, one process with `-a watch=POLL` for the day;
- watch x3: three Redis workers with `-a watch=POLL`; the one polling is killed with kill -9 halfway.

Requests are counted on the replica's own request log. Delays are publication-to-store, in real
seconds and as a share of the timer period (a tick) or the poll interval. A correction is caught when
the newest stored version of the corrected article has its corrected title (an article first fetched
after its correction needs no second version).
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

import redis

from gmwcrawler.health.report import nearest_rank
from tests.conftest import FAST, ROOT, RedisServer, crawl_command, free_port, redis_binary, start_replica, stop_replica

SCHEDULE = (900, 3600, 3 * 3600, 6 * 3600)  # GMW_REFRESH_SCHEDULE's default, seconds
FAILED = (3600, 6 * 3600, 24 * 3600)  # GMW_FAILED_RETRY_SCHEDULE's default
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
        self.corrected: list[str] = []

    def tick(self, number: int) -> None:
        time.sleep(self.tick_seconds / 2)
        self.published.append(json.loads(self.replica.get(f"/__replica__/publish?count={self.per_tick}")))
        if number % 4 == 3 and len(self.published) >= 3:
            self.replica.get(f"/__replica__/edit?url={self.published[-3][0]}")
            self.corrected.append(self.published[-3][0])
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
    published = {url for batch in day.published for url in batch}
    delays = _delays([i for i in items if i["url"] in published])
    firsts = _first_counts(items)
    # a corrected article whose newest stored version has the corrected title (fetched after the correction,
    # first or by a refresh); not one whose store still holds the text from before it
    truth = day.replica.truth()
    newest: dict[str, dict] = {}
    for item in items:
        if item["url"] in day.corrected and item.get("version", 1) >= newest.get(item["url"], {}).get("version", 1):
            newest[item["url"]] = item
    caught = {u for u, item in newest.items() if item["title"] == truth[u]["title"]}
    return {
        "mode": name, "new_articles": new, "stored_new": len(set(firsts) & published),
        "stored_twice": sum(n > 1 for n in firsts.values()) if any("version" in i for i in items) else None,
        "requests": requests, "requests_per_new_article": round(requests / max(1, new), 2),
        "bytes": sum(s.get("downloader/response_bytes", 0) for s in stats),
        "share_304": round(sum(s.get("downloader/response_status_count/304", 0) for s in stats) / max(1, responses), 3),
        "refreshes": sum(s.get("gmw/incremental/refresh", 0) for s in stats),
        "failed_retried": sum(s.get("gmw/incremental/retry_failed", 0) for s in stats),
        "corrections": len(day.corrected), "corrections_caught": len(caught),
        "delay_p50_s": _quantile(delays, 0.5), "delay_p95_s": _quantile(delays, 0.95),
        "delay_p95_per_unit": round(_quantile(delays, 0.95) / unit, 2) if delays else None, "unit_s": unit,
    }


def _first_counts(items: list[dict]) -> dict[str, int]:
    """How often each article's first version was stored (more than once: stored twice)."""
    counts: dict[str, int] = {}
    for item in items:
        if item.get("version", 1) == 1:
            counts[item["url"]] = counts.get(item["url"], 0) + 1
    return counts



def _replica(args: argparse.Namespace):
    return start_replica("--articles", str(args.articles), "--seed", "11")  # with its fault pages: failures, backoff


def timer_mode(name: str, tree: Path, settings: dict, work: Path, args: argparse.Namespace) -> dict:
    replica = _replica(args)
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


def watch_mode(name: str, work: Path, args: argparse.Namespace, scaled: dict, workers: int = 1) -> dict:
    """One watching process, or `workers` Redis workers of which the polling one is killed with kill -9
    halfway through the day (the others carry on)."""
    replica = _replica(args)
    server = None
    try:
        if workers > 1:
            (work / name).mkdir(parents=True)
            server = RedisServer(redis_binary(), free_port(), work / name)
            server.start()
            store = {"GMW_REDIS_URL": server.url, "GMW_REDIS_NAMESPACE": "day", "GMW_IDLE_TIMEOUT": "3",
                     "GMW_HEARTBEAT_INTERVAL": "1", "GMW_LEASE_TIMEOUT": "10", "GMW_REDIS_OUTAGE_TIMEOUT": "8",
                     "GMW_GLOBAL_RATE": "0", **scaled}
        else:
            store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(work / name / "seen.sqlite3"), **scaled}
        _crawl(ROOT, replica, work / name / "full", store)
        day = Day(replica, args.ticks, args.per_tick, args.tick_seconds)
        before = day.hits()
        folder = work / name / "day"
        folder.mkdir(parents=True)
        processes = [subprocess.Popen(crawl_command(folder / f"items{n}.jsonl", folder / f"stats{n}.json",
                                                    (f"watch={args.poll}",), {**FAST, **store}),
                                      cwd=ROOT, env=replica.env(), stdout=subprocess.DEVNULL,
                                      stderr=(folder / f"log{n}").open("w"))
                     for n in range(workers)]
        killed = None
        for number in range(args.ticks):
            day.tick(number)
            if workers > 1 and killed is None and number == args.ticks // 2:
                killed = _kill_poller(server.url, processes)
        time.sleep(args.poll * 2)  # the last articles' poll
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(120)
        items = [json.loads(line) for n in range(workers) if (folder / f"items{n}.jsonl").exists()
                 for line in (folder / f"items{n}.jsonl").read_text("utf-8").splitlines() if line.strip()]
        stats = [json.loads((folder / f"stats{n}.json").read_text("utf-8")) for n in range(workers)
                 if (folder / f"stats{n}.json").exists()]
        result = _totals(name, day, before, stats, items, args.poll)
        result["exit"] = [p.returncode for p in processes if p is not killed]
        if killed is not None:
            # the feeds are at-least-once (a killed worker's last items are delivered again by another); the
            # shared store in Redis (as PostgreSQL) holds each decision once
            result["killed_at_tick"] = args.ticks // 2
            client = redis.Redis.from_url(server.url)
            kept = [json.loads(x) for x in client.lrange("day:politics:items", 0, -1)]
            client.close()
            result["stored_twice_in_redis"] = sum(n > 1 for n in _first_counts(kept).values())
        return result
    finally:
        stop_replica(replica)
        if server is not None:
            server.stop()


def _kill_poller(url: str, processes: list[subprocess.Popen]) -> subprocess.Popen:
    client = redis.Redis.from_url(url)
    try:
        holder = client.get("day:politics:watch:poller")
    finally:
        client.close()
    pid = int(holder.decode().split(":")[1]) if holder else processes[0].pid
    victim = next(p for p in processes if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    return victim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="", help="also run this revision on the timer (802d91f: before issue #13)")
    parser.add_argument("--ticks", type=int, default=96, help="ticks of 15 simulated minutes (96: a day)")
    parser.add_argument("--per-tick", type=int, default=2)
    parser.add_argument("--tick-seconds", type=float, default=3.0)
    parser.add_argument("--poll", type=int, default=10, help="watch mode's poll interval, seconds")
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--modes", default="timer,watch,watch3", help="which modes to run, comma-separated")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "simulated_day.json")
    args = parser.parse_args(argv)
    scale = TIMER / args.tick_seconds
    scaled = {"GMW_REFRESH_SCHEDULE": ",".join(f"{s / scale:g}" for s in SCHEDULE),
              "GMW_FAILED_RETRY_SCHEDULE": ",".join(f"{s / scale:g}" for s in FAILED)}
    modes = args.modes.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.before:
            old = work / "before-tree"
            subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                rows.append(timer_mode("before", old, {"GMW_REFRESH_WINDOW": f"{WINDOW / scale:g}"}, work, args))
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
        if "timer" in modes:
            rows.append(timer_mode("timer", ROOT, scaled, work, args))
        if "watch" in modes:
            rows.append(watch_mode("watch", work, args, scaled))
        if "watch3" in modes:
            rows.append(watch_mode("watch x3", work, args, scaled, workers=3))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    hours = args.ticks / 4
    print(f"{args.ticks} ticks of {args.tick_seconds:g} s (= 15 min, {hours:g} simulated hours), {args.per_tick} new per"
          f" tick, watch polls every {args.poll} s")
    print("| mode | new stored | stored twice | requests | per new article | refreshes | failed pages retried |"
          " corrections caught | 304 share | delay p50 / p95 (s) | p95 per timer or poll period |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['stored_new']}/{r['new_articles']} | {r['stored_twice']} | {r['requests']} |"
              f" {r['requests_per_new_article']} | {r['refreshes']} | {r['failed_retried']} |"
              f" {r['corrections_caught']}/{r['corrections']} | {r['share_304']:.0%} |"
              f" {r['delay_p50_s']} / {r['delay_p95_s']} | {r['delay_p95_per_unit']} |")
    for r in rows:
        if "requests_with_nothing_new" in r:
            print(f"{r['mode']}: a run with nothing new made {r['requests_with_nothing_new']} requests (robots.txt included)")
        if "exit" in r:
            print(f"{r['mode']}: exit statuses after SIGTERM {r['exit']}"
                  + (f"; the polling worker killed at tick {r['killed_at_tick']}; stored twice in the feeds"
                     f" {r['stored_twice']}, in Redis's store {r['stored_twice_in_redis']}" if "killed_at_tick" in r else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
