"""Watch mode in a cluster: three Redis workers watch the replica while it publishes; one polls at a time,
a correction comes in by a refresh step, the poller killed with kill -9 is replaced, a stopped one hands
over at once, SIGTERM ends every worker with exit 0. Counted where users read: the PostgreSQL table, the workers' feeds, the replica's request log."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from itertools import pairwise

import psycopg
import pytest

from tests.conftest import start_replica, stop_replica, wait_for
from tests.test_distributed import Cluster, assert_exactly_once, wanted_urls

POLL = 10  # seconds, the shortest watch interval the spider accepts


@pytest.fixture
def cluster(news_replica, redis_server, own_postgres_dsn, tmp_path):
    made = Cluster(news_replica, redis_server.url, tmp_path, GMW_POSTGRES_DSN=own_postgres_dsn,
                   GMW_REFRESH_SCHEDULE="12,3600")
    yield made
    for proc in made.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    made.close()


@pytest.fixture
def news_replica():
    replica = start_replica("--articles", "40", "--seed", "9", "--latency", "0.02", "--no-faults")
    yield replica
    stop_replica(replica)


def publish(replica, count: int) -> list[str]:
    """What the replica published and lists (every tenth article it publishes is reached only through 相关阅读)."""
    urls = json.loads(replica.get(f"/__replica__/publish?count={count}"))
    truth = replica.truth()
    return [u for u in urls if truth[u]["listed"]]


def table(dsn: str) -> Counter:
    """The table's URLs; a table not made yet (the workers migrate it at start) is empty."""
    try:
        with psycopg.connect(dsn) as conn:
            return Counter(url for (url,) in conn.execute("SELECT url FROM gmw_articles"))
    except psycopg.errors.UndefinedTable:
        return Counter()


def versions(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT identity_key) FROM gmw_article_versions").fetchone()


def poller_process(cluster: Cluster, procs: list[subprocess.Popen]) -> subprocess.Popen:
    holder = wait_for(lambda: cluster.redis.get(cluster.key("watch:poller")), "no worker took the poller lease", 60)
    pid = int(holder.decode().split(":")[1])
    return next(p for p in procs if p.pid == pid)


def listing_hits(replica, since: float) -> list[tuple[float, str]]:
    return sorted((t, url) for t, url in replica.hitlog() if t >= since and "/node_" in url)


def test_three_watching_workers_store_every_published_article_once(cluster, news_replica, own_postgres_dsn, tmp_path):
    procs = cluster.start(3, f"watch={POLL}")
    truth = news_replica.truth()
    first = {u for u in wanted_urls(truth) if truth[u]["kind"] not in ("dup_a", "dup_b")}  # one twin is kept
    wait_for(lambda: set(table(own_postgres_dsn)) >= first, "the first pass did not store every listed article", 120)
    polling = poller_process(cluster, procs)
    status = cluster.scrapy_gmw("status")
    assert status.returncode == 0, status.stderr
    assert re.search(rf"watch mode: poller [^:\s]+:{polling.pid}:\w+, last poll [\d.]+ s ago by", status.stdout), status.stdout

    # one worker polls: in two poll intervals each node's first page was asked about twice, not six times, and
    # with nothing new no poll walked on to a second page (what this run stored before the poll is known)
    quiet_from = time.time()
    time.sleep(2 * POLL + 1)
    polls = Counter(url for _, url in listing_hits(news_replica, quiet_from))
    assert len(polls) == 6 and all(re.search(r"/node_\d+\.htm$", url) for url in polls), polls
    assert set(polls.values()) <= {2, 3}, polls

    published = publish(news_replica, 3)
    wait_for(lambda: set(table(own_postgres_dsn)) >= set(published), "the poller did not bring the new articles in",
             3 * POLL)
    # an editor corrects one in its first hours: a refresh step of the watching run brings the new version in
    # (GMW_REFRESH_SCHEDULE below: a step 12 s after it was stored), although this run stored it already
    news_replica.get(f"/__replica__/edit?url={published[0]}")
    wait_for(lambda: versions(own_postgres_dsn)[0] == len(table(own_postgres_dsn)) + 1,
             "the watching run did not refresh the corrected article", 4 * POLL)

    # kill -9 the poller: another worker takes the lease and polls within about one poll interval
    polling.send_signal(signal.SIGKILL)
    polling.wait()
    killed_at = time.time()
    survivors = [p for p in procs if p is not polling]
    fresh = publish(news_replica, 3)
    successor = poller_process_other_than(cluster, procs, polling)
    assert successor in survivors
    wait_for(lambda: set(table(own_postgres_dsn)) >= set(fresh), "nobody polled after the poller was killed",
             4 * POLL)
    after_kill = listing_hits(news_replica, killed_at)
    assert after_kill and after_kill[0][0] - killed_at < 2 * POLL, after_kill[:3]

    # a rolling restart: the polling worker stopped with SIGTERM hands the lease over at once (no poll is
    # missed: the channel's first page is asked about at most a check later than an interval); a new worker joins
    stopped_at = time.time()
    successor.send_signal(signal.SIGTERM)
    assert cluster.wait([successor], 60) == [0], cluster.logs()[-3000:]
    (joined,) = cluster.start(1, f"watch={POLL}")
    last = publish(news_replica, 2)
    wait_for(lambda: set(table(own_postgres_dsn)) >= set(last), "nobody polled after the rolling restart", 4 * POLL)
    time.sleep(POLL)
    page_one = [t for t, url in listing_hits(news_replica, stopped_at - POLL) if url.endswith("/node_9840.htm")]
    gaps = [b - a for a, b in pairwise(page_one)]
    assert len(page_one) >= 3 and max(gaps) < POLL + 5, gaps  # a missed poll: about 2 × POLL

    running = [p for p in procs + [joined] if p.poll() is None]
    assert len(running) == 2
    for p in running:
        p.send_signal(signal.SIGTERM)
    assert cluster.wait(running, 60) == [0, 0], cluster.logs()[-3000:]

    rows = table(own_postgres_dsn)
    truth = news_replica.truth()
    assert set(published + fresh + last) <= wanted_urls(truth)
    assert_exactly_once([{"url": url} for url in rows.elements()], truth)
    count, distinct = versions(own_postgres_dsn)
    assert distinct == len(rows) and count == len(rows) + 1  # one version each, the corrected one two: none twice
    feeds = {i["url"] for p in procs + [joined] for i in cluster.feed(p)}
    assert feeds == set(rows)  # each row also reached a worker's feed
    assert "Traceback" not in cluster.logs()
    # each stopped worker's run report: the watch ended by a signal is its normal end
    for p in (successor, *running):
        index = next(n for n, q in enumerate(cluster.procs, 1) if q is p)
        report = json.loads((tmp_path / f"worker{index}" / "items.jsonl.report.json").read_text("utf-8"))
        assert report["verdict"] == "ok" and report["finish_reason"] == "shutdown", report["message"]
        assert report["watch"]["interval_s"] == POLL
    assert cluster.redis.get(cluster.key("watch:poller")) is None  # the last poller handed the lease back


def poller_process_other_than(cluster: Cluster, procs: list[subprocess.Popen], dead: subprocess.Popen) -> subprocess.Popen:
    def holder():
        value = cluster.redis.get(cluster.key("watch:poller"))
        return value if value and int(value.decode().split(":")[1]) != dead.pid else None

    pid = int(wait_for(holder, "no worker took over the poller lease", 2 * POLL).decode().split(":")[1])
    return next(p for p in procs if p.pid == pid)


def test_the_poller_lease_lets_one_worker_poll_and_fences_a_lapsed_one(redis_server):
    """scripts.POLL: one holder polls once an interval; a holder whose lease lapsed cannot poll beside the next;
    a released lease is taken at once, and the new holder polls when the old one would have."""
    import redis as redis_py
    from scrapy.settings import Settings

    from gmwcrawler.distributed.connection import Guard
    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.poller import Poller, last_poll, timing

    assert timing(10) == (2.0, 6.0) and timing(600) == (5.0, 15.0)
    client = redis_py.Redis.from_url(redis_server.url)
    guard, keys = Guard(redis_server.url, Settings()), Keys("p", "politics")
    a, b = (Poller(client, guard, keys, name, interval=10) for name in ("a", "b"))
    assert a.turn() and a.holds  # the first poll of the run: at once
    assert not b.turn() and b.holder == "a" and not b.holds
    assert not a.turn() and a.holds  # held, but the interval has not passed
    client.delete(keys.poller)  # a's lease lapsed (a stalled past it)
    assert not b.turn() and b.holds  # b takes it, and waits for the interval a started
    assert not a.turn() and a.holder == "b" and not a.holds  # a, back, polls no more
    b.release()
    assert client.get(keys.poller) is None
    client.hset(keys.watch, "last_ms", 0)  # the interval has passed
    assert a.turn()
    assert last_poll(client, guard, keys).by == "a"
    client.close()


def test_a_watching_worker_opens_a_new_run_where_the_last_one_finished(redis_server):
    import redis as redis_py

    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.run import join_run

    client = redis_py.Redis.from_url(redis_server.url)
    keys = Keys("r", "politics")
    client.hset(keys.run, mapping={"id": "old", "state": "finished"})
    client.sadd(keys.fingerprints, "f")
    assert join_run(client, lambda fn, **kw: fn(**kw), keys) == ("finished", "old")  # a one-pass worker: nothing to do
    state, run_id = join_run(client, lambda fn, **kw: fn(**kw), keys, reopen=True)
    assert state == "running" and run_id != "old" and not client.exists(keys.fingerprints)
    assert join_run(client, lambda fn, **kw: fn(**kw), keys, reopen=True) == ("running", run_id)  # the next joins it
    client.close()
