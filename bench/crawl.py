"""Crawl benchmarks against the replica, each figure a ratio measured side by side (issue #6).

- CPU seconds per 1,000 articles: the full crawler (extraction + pipelines, single machine)
  against bench/bare_spider.py following the same links; then Redis mode (leases, JSON queue,
  shared seen-store) against single-machine mode.
- Aggregate pages/s with 3 workers against 1 worker, replica latency 100 ms, rate limit off.
- Peak RSS of a worker with 100,000 requests queued (Redis mode: the queue is in Redis).

CPU is the crawl process's own user + system time (os.wait4), not the replica's or Redis's.

    .venv/bin/python -m bench --only cpu,scaling,rss
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from tests.conftest import FAST, ROOT, RedisServer, crawl_command, free_port, redis_binary, start_replica, stop_replica

BENCH = Path(__file__).resolve().parent
FIRST_PAGE = re.compile(r"/content_\d+\.htm$")
SAME = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": "0",
        "REMOTE_CONTROL_ENABLED": "0", "ROBOTSTXT_OBEY": "1", "RETRY_TIMES": "2"}


@contextmanager
def _replica_and_redis(work: Path, *replica_args: str) -> Iterator[tuple]:
    """A replica without faults and a private redis-server, both stopped at the end."""
    replica = start_replica(*replica_args, "--no-faults")
    try:
        server = RedisServer(redis_binary(), free_port(), work)
        server.start()
        try:
            yield replica, server
        finally:
            server.stop()
    finally:
        stop_replica(replica)


@contextmanager
def revision_tree(revision: str, work: Path) -> Iterator[Path]:
    """A git worktree of an earlier revision, to crawl side by side with this checkout; removed at the end."""
    tree = work / "old-tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT, check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


@contextmanager
def side_by_side(revision: str, articles: int) -> Iterator[tuple[Path, dict[str, Path], Any, RedisServer]]:
    """A work folder, this checkout and a worktree of `revision` ("new", "old"), and a replica of `articles`
    (seed 11, no faults) with a private redis-server: what a benchmark against a revision crawls."""
    with tempfile.TemporaryDirectory() as tmp, revision_tree(revision, Path(tmp)) as old:
        work = Path(tmp)
        (work / "services").mkdir()
        with _replica_and_redis(work / "services", "--articles", str(articles), "--seed", "11") as (replica, server):
            yield work, {"new": ROOT, "old": old}, replica, server


def revision_arguments(doc: str, repeats: int, argv: list[str] | None) -> argparse.Namespace:
    """REVISION [--repeats N] [--articles N]: what a this-checkout-against-a-revision benchmark takes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--articles", type=int, default=1000)
    return parser.parse_args(argv)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _reap(process: subprocess.Popen) -> float:
    """Wait for the process; its own CPU seconds (user + system)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    # (not ru_maxrss: on Linux it counts the forking parent's memory image too; see rss_with_queue)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], env: dict, cwd: Path) -> dict:
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = _reap(process)
    return {"exit": process.returncode, "wall_s": time.monotonic() - started, "cpu_s": cpu}


def _ours(replica, folder: Path, settings: dict, spider_args: tuple[str, ...] = ()) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    command = crawl_command(folder / "items.jsonl", folder / "stats.json", spider_args, {**FAST, **SAME, **settings})
    result = _run(command, replica.env(), ROOT)
    stats = json.loads((folder / "stats.json").read_text())
    result["pages"] = stats.get("response_received_count", 0)
    result["articles"] = stats.get("item_scraped_count", 0)  # stored, after de-duplication
    result["items_read"] = stats.get("gmw/article/items", 0)
    return result


def _bare(replica, folder: Path, items: bool = False) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "scrapy", "runspider", str(BENCH / "bare_spider.py"),
               "-s", "STATS_DUMP=1"]
    if items:
        command += ["-a", "items=1", "-O", "items.jsonl"]
    for key, value in SAME.items():
        command += ["-s", f"{key}={value}"]
    env = {k: v for k, v in replica.env().items() if k != "PYTHONPATH"}
    result = _run(command, env, folder)  # outside the project: Scrapy's defaults, no project settings
    if items:
        result["items"] = len((folder / "items.jsonl").read_bytes().splitlines())
    return result


def cpu_figures(articles: int, work: Path, repeats: int = 3) -> dict:
    """The crawls in turn, `repeats` times (interleaved, so a slow moment of the machine hits
    all alike); each crawl's CPU per 1,000 articles is its median run, each ratio the median of
    the ratios paired per repeat."""
    work.mkdir(parents=True)
    # Two crawls split the single/bare ratio: "bare_items", the bare spider yielding a one-field
    # item per article into a feed (Scrapy's item path alone), and "no_pipelines", the
    # single-machine crawl with ITEM_PIPELINES off (navigation, extraction, feed).
    runs: dict[str, list[dict]] = {"bare": [], "bare_items": [], "single": [], "no_pipelines": [], "redis": []}
    with _replica_and_redis(work, "--articles", str(articles), "--seed", "11") as (replica, server):
        for n in range(repeats):
            before = replica.hits()
            bare = _bare(replica, work / f"bare{n}")
            hits = {u: c - before.get(u, 0) for u, c in replica.hits().items() if c > before.get(u, 0)}
            # no faults: every article's first page answers, once
            runs["bare"].append({**bare, "pages": sum(hits.values()),
                                 "articles": len([u for u in hits if FIRST_PAGE.search(u)])})
            runs["bare_items"].append(_bare(replica, work / f"bare_items{n}", items=True))
            runs["single"].append(_ours(replica, work / f"single{n}", {"GMW_SEEN_STORE": "memory"}))
            runs["no_pipelines"].append(_ours(replica, work / f"nopipe{n}", {"GMW_SEEN_STORE": "memory",
                                                                             "ITEM_PIPELINES": "{}"}))
            runs["redis"].append(_ours(replica, work / f"redis{n}", {
                "GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0", "GMW_IDLE_TIMEOUT": "1",
                "GMW_REDIS_NAMESPACE": uuid.uuid4().hex}))
    # The crawls fetch the same links, so all are divided by the same count: the articles
    # whose first page the bare spider fetched (what gmwcrawler stores is fewer where its
    # de-duplication drops one; what it reads, more where it reads an article twice).
    articles = max(1, runs["bare"][0]["articles"])
    out: dict = {"repeats": repeats, "articles": articles}
    for name, results in runs.items():
        for r in results:
            r["cpu_s_per_1000_articles"] = round(r["cpu_s"] / articles * 1000, 2)
        ordered = sorted(results, key=lambda r: r["cpu_s_per_1000_articles"])
        out[name] = {**ordered[len(ordered) // 2], "all_cpu_s_per_1000_articles": [r["cpu_s_per_1000_articles"]
                                                                               for r in results]}
    # Ratios are paired: each repeat's crawl against the same repeat's baseline (the machine's
    # speed drifts by ±8 % between repeats here), then the median and the range of those ratios.
    for name, baseline in (("single", "bare"), ("bare_items", "bare"), ("no_pipelines", "bare"), ("redis", "single")):
        ratios = sorted(r["cpu_s"] / b["cpu_s"] for r, b in zip(runs[name], runs[baseline]))
        out[f"ratio_{name}_to_{baseline}"] = round(ratios[len(ratios) // 2], 3)
        out[f"ratio_{name}_to_{baseline}_range"] = [round(ratios[0], 3), round(ratios[-1], 3)]
    return out


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scaling(articles: int, work: Path, latency: float = 0.1, per_domain: int = 2) -> dict:
    """Aggregate pages/s of 3 workers against 1, over the span the replica was answering them
    (first to last request): start-up and the idle wait at the end are the same for any number
    of workers and would hide the scaling. `per_domain` (CONCURRENT_REQUESTS_PER_DOMAIN of each
    worker) sets the load: the three workers, the replica and Redis share this machine's cores,
    and the report says how busy the machine was (`machine_busy`)."""
    work.mkdir(parents=True)
    out = {}
    with _replica_and_redis(work, "--articles", str(articles), "--seed", "12", "--latency", str(latency)) as (
            replica, server):
        for workers in (1, 3):
            settings = {**FAST, **SAME, "GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0", "GMW_IDLE_TIMEOUT": "1",
                        "GMW_REDIS_NAMESPACE": uuid.uuid4().hex, "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_domain),
                        "LOG_LEVEL": "INFO"}
            before = len(replica.hitlog())
            support_before = _cpu_of(replica.process.pid) + _cpu_of(server.process.pid)
            started = time.monotonic()
            procs = []
            for n in range(workers):
                folder = work / f"scale{workers}-{n}"
                folder.mkdir()
                procs.append(subprocess.Popen(crawl_command(folder / "items.jsonl", folder / "stats.json", (), settings),
                                              cwd=ROOT, env=replica.env(), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            worker_cpu = sum(_reap(p) for p in procs)
            support_cpu = _cpu_of(replica.process.pid) + _cpu_of(server.process.pid) - support_before
            wall = time.monotonic() - started
            hits = replica.hitlog()[before:]
            span = hits[-1][0] - hits[0][0] if len(hits) > 1 else float("nan")
            stats = [json.loads((work / f"scale{workers}-{n}" / "stats.json").read_text()) for n in range(workers)]
            out[workers] = {"pages": len(hits), "busy_s": round(span, 2), "pages_per_s": round(len(hits) / span, 2),
                            "items": sum(s.get("gmw/article/items", 0) for s in stats),
                            "pages_per_worker": [s.get("response_received_count", 0) for s in stats],
                            "exit_codes": [p.returncode for p in procs],
                            # how busy the machine was: workers' CPU and the replica's + Redis's, per core
                            "worker_cpu_s": round(worker_cpu, 2), "replica_and_redis_cpu_s": round(support_cpu, 2),
                            "worker_cpu_ms_per_page": round(worker_cpu / max(1, len(hits)) * 1000, 2),
                            "machine_busy": round((worker_cpu + support_cpu) / (wall * (os.cpu_count() or 1)), 3)}
    return {**out, "per_domain": per_domain, "latency_s": latency,
            "ratio_3_workers_to_3x1": round(out[3]["pages_per_s"] / (3 * out[1]["pages_per_s"]), 3)}


def rss_with_queue(work: Path, queued: int = 100_000, seconds: float = 30.0) -> dict:
    work.mkdir(parents=True)
    namespace = uuid.uuid4().hex
    with _replica_and_redis(work, "--articles", "20", "--seed", "13") as (replica, server):
        client = redis.Redis(port=server.port)
        pipe = client.pipeline(transaction=False)
        for i in range(queued):
            payload = json.dumps({"url": f"https://politics.gmw.cn/node_9840_{i + 2}.htm", "callback": "parse_listing",
                                  "errback": "listing_failed", "method": "GET", "headers": {}, "body": {"__b64__": ""},
                                  "cookies": {}, "meta": {}, "encoding": "utf-8", "priority": 0, "dont_filter": True,
                                  "flags": [], "cb_kwargs": {"list_page": 2}})
            pipe.hset(f"{namespace}:politics:requests:payloads", str(i + 1), payload)
            pipe.zadd(f"{namespace}:politics:requests", {str(i + 1): i + 1})
        pipe.set(f"{namespace}:politics:requests:sequence", queued)
        pipe.execute()
        client.close()
        folder = work / "rss"
        folder.mkdir()
        settings = {**FAST, **SAME, "GMW_REDIS_URL": server.url, "GMW_GLOBAL_RATE": "0",
                    "GMW_REDIS_NAMESPACE": namespace}
        process = subprocess.Popen(crawl_command(folder / "items.jsonl", folder / "stats.json", (), settings),
                                   cwd=ROOT, env=replica.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = _watch_peak_rss(process, seconds)
        process.send_signal(signal.SIGINT)  # a graceful stop: leases go back to the queue
        peak = max(peak, _watch_peak_rss(process, 60))
        if process.poll() is None:
            process.kill()
            process.wait()
        left = redis.Redis(port=server.port)
        remaining = left.zcard(f"{namespace}:politics:requests")
        left.close()
    return {"queued": queued, "still_queued_at_stop": remaining, "peak_rss_mb": round(peak / 1024, 1)}


def _watch_peak_rss(process: subprocess.Popen, seconds: float) -> int:
    """The process's peak RSS in kB (VmHWM), watched for `seconds` or until it exits.

    Not the rusage of wait4: Linux's ru_maxrss keeps the high-water mark of the memory image
    replaced at exec — the forking bench process's — so a child of a big parent reports the
    parent's size (measured: 310 MB for a worker whose own peak was 106 MB)."""
    peak, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.2)
    return peak
