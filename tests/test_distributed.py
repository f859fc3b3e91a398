"""Distributed mode against a real Redis started by the tests (issue #4).

Workers are real `scrapy crawl politics` processes sharing one run through Redis; the
shared store checked is the Redis list `<namespace>:politics:items`.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.conftest import PYTHON, ROOT, Replica, crawl_command, start_replica, stop_replica, wait_for
from tests.test_crawl import expected_urls

WORKER_TIMEOUT = 240


class Cluster:
    def __init__(self, replica: Replica, redis_url: str, tmp_path: Path, **settings) -> None:
        self.replica = replica
        self.redis_url = redis_url
        self.namespace = f"t{uuid.uuid4().hex[:8]}"
        self.tmp = tmp_path
        self.settings = {"GMW_REDIS_URL": redis_url, "GMW_REDIS_NAMESPACE": self.namespace, "GMW_IDLE_TIMEOUT": "3",
                         # a lease outlives an outage plus a heartbeat (preflight refuses otherwise)
                         "GMW_LEASE_TIMEOUT": "10", "GMW_HEARTBEAT_INTERVAL": "1", "GMW_GLOBAL_RATE": "0",
                         "GMW_REDIS_OUTAGE_TIMEOUT": "8", "LOG_LEVEL": "DEBUG", **settings}
        self.redis = redis.Redis.from_url(redis_url)
        self.started = 0
        self.procs: list[subprocess.Popen] = []
        self.files: list = []

    def key(self, name: str) -> str:
        return f"{self.namespace}:politics:{name}"

    def start(self, n: int, *spider_args: str) -> list[subprocess.Popen]:
        procs = []
        for _ in range(n):
            self.started += 1
            w = self.tmp / f"worker{self.started}"
            w.mkdir()
            self.files.append((w / "log").open("w"))
            procs.append(subprocess.Popen(
                crawl_command(w / "items.jsonl", w / "stats.json", spider_args, self.settings),
                cwd=ROOT, env=self.replica.env(), stdout=subprocess.DEVNULL, stderr=self.files[-1],
            ))
        self.procs += procs
        return procs

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.redis.close()

    def wait(self, procs: list[subprocess.Popen], timeout: float = WORKER_TIMEOUT) -> list[int]:
        deadline = time.monotonic() + timeout
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(max(1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(-999)
        return codes

    def feed(self, proc: subprocess.Popen) -> list[dict]:
        """The items in a worker's own feed file (what its user reads)."""
        index = next(n for n, p in enumerate(self.procs, 1) if p is proc)
        path = self.tmp / f"worker{index}" / "items.jsonl"
        lines = path.read_text("utf-8").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    def items(self) -> list[dict]:
        return [json.loads(x) for x in self.redis.lrange(self.key("items"), 0, -1)]

    def logs(self) -> str:
        return "\n".join((p / "log").read_text() for p in sorted(self.tmp.glob("worker*")))

    def stats(self) -> list[dict]:
        return [json.loads((p / "stats.json").read_text()) for p in sorted(self.tmp.glob("worker*"))
                if (p / "stats.json").exists()]

    def scrapy_gmw(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "GMW_REDIS_URL": self.redis_url, "GMW_REDIS_NAMESPACE": self.namespace}
        return subprocess.run([PYTHON, "-m", "scrapy", "gmw", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=False)


@pytest.fixture
def make_cluster(tmp_path):
    made: list[Cluster] = []

    def make(replica: Replica, redis_url: str, **settings) -> Cluster:
        made.append(Cluster(replica, redis_url, tmp_path, **settings))
        return made[-1]

    yield make
    for cluster in made:
        cluster.close()


def wanted_urls(truth: dict[str, dict]) -> set[str]:
    """With --no-faults every special page is an article, but robots.txt still forbids one."""
    return {u for u in expected_urls(truth) | {u for u, t in truth.items() if t["listed"] and t["kind"] != "recommended_only"}
            if truth[u]["kind"] != "robots_forbidden"}


def assert_exactly_once(items: list[dict], truth: dict[str, dict]) -> None:
    urls = Counter(i["url"] for i in items)
    assert max(urls.values()) == 1, [u for u, n in urls.items() if n > 1][:5]
    want = wanted_urls(truth)
    twins = {u for u in want if truth[u]["kind"] in ("dup_a", "dup_b")}
    assert len(set(urls) & twins) == 1
    missing = (want - twins) - set(urls)
    assert not missing, sorted(missing)[:5]
    assert set(urls) <= want


def assert_run_finished(cluster: Cluster) -> None:
    assert cluster.redis.zcard(cluster.key("requests")) == 0
    assert cluster.redis.zcard(cluster.key("requests:leases")) == 0
    assert cluster.redis.hget(cluster.key("run"), "state") == b"finished"


@pytest.fixture(scope="module")
def big_replica():
    replica = start_replica("--articles", "2000", "--seed", "5", "--latency", "0.02", "--no-faults")
    yield replica
    stop_replica(replica)


SPIDER = ("max_list_pages=200",)


@pytest.fixture(scope="module")
def small_replica():
    """A quarter of big_replica: enough for a fault in mid-run and a whole count after it, in less time."""
    replica = start_replica("--articles", "500", "--seed", "5", "--latency", "0.02", "--no-faults")
    yield replica
    stop_replica(replica)


def wait_for_items(cluster: Cluster, count: int, timeout: float = 120) -> None:
    wait_for(lambda: cluster.redis.llen(cluster.key("items")) >= count, "the crawl made no progress", timeout)


def postgres_rows(dsn: str) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        return [{"url": url} for (url,) in conn.execute("SELECT url FROM gmw_articles")]


def test_three_workers_store_every_article_once_and_exit(big_replica, redis_server, make_cluster, own_postgres_dsn):
    """Three workers started at once on a fresh database (what `docker compose up --scale worker=3` does):
    all migrate safely and every article is in the table exactly once."""
    cluster = make_cluster(big_replica, redis_server.url, GMW_POSTGRES_DSN=own_postgres_dsn)
    codes = cluster.wait(cluster.start(3, *SPIDER))
    assert codes == [0, 0, 0], cluster.logs()[-3000:]
    assert_exactly_once(postgres_rows(own_postgres_dsn), big_replica.truth())
    assert_exactly_once(cluster.items(), big_replica.truth())
    assert_run_finished(cluster)
    per_worker = [s.get("item_scraped_count", 0) for s in cluster.stats()]
    assert all(n > 0 for n in per_worker), per_worker  # all three shared the work
    assert "Traceback" not in cluster.logs()
    # each worker's extraction paths are kept in Redis for the drift comparison (issue #11)
    kept = [json.loads(x) for x in cluster.redis.lrange(cluster.key("extraction"), 0, -1)]
    assert len(kept) == 3 and sum(run["title"]["a"] for run in kept) > 0


def test_a_killed_worker_loses_nothing(big_replica, redis_server, make_cluster, own_postgres_dsn):
    """Counted where users read: the PostgreSQL table (exactly once) and the workers' feeds (at least once).
    Before, the killed worker's rows still waiting in the sink's memory were lost (924 of 1005 kept)."""
    cluster = make_cluster(big_replica, redis_server.url, GMW_POSTGRES_DSN=own_postgres_dsn)
    victim, *others = cluster.start(3, *SPIDER)
    wait_for(lambda: len(cluster.feed(victim)) >= 100, "the victim stored nothing", 120, 0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert cluster.wait(others) == [0, 0], cluster.logs()[-3000:]
    truth = big_replica.truth()
    with psycopg.connect(own_postgres_dsn) as conn:
        rows = [{"url": url} for (url,) in conn.execute("SELECT url FROM gmw_articles")]
        versions = conn.execute("SELECT count(*), count(DISTINCT identity_key) FROM gmw_article_versions").fetchone()
    assert_exactly_once(rows, truth)
    assert versions[0] == versions[1] == len(rows)  # one version each: a delivery again added none
    feeds = [item for proc in (victim, *others) for item in cluster.feed(proc)]
    assert {i["url"] for i in feeds} == {r["url"] for r in rows}
    assert_exactly_once(cluster.items(), truth)
    assert_run_finished(cluster)
    assert sum(s.get("gmw/queue/leases_expired", 0) for s in cluster.stats()) > 0  # the victim's leases came back


def test_a_page_that_kills_every_worker_goes_to_the_dead_letter_list(small_replica, redis_server, make_cluster,
                                                                     own_postgres_dsn):
    """Before, an expired lease went back to the front of the queue uncounted: a page that kills whichever
    worker takes it took every worker down in turn. Now its second expiry (GMW_MAX_ATTEMPTS=2) sets it aside,
    and the last worker finishes the run with every other article stored once."""
    from gmwcrawler import settings as project

    truth = small_replica.truth()
    poison = next(u for u, t in sorted(truth.items())  # nothing is reached only through it
                  if t["listed"] and t["kind"] == "regular" and t["page_count"] == 1 and not t["related"])
    middlewares = {**project.DOWNLOADER_MIDDLEWARES, "tests.killer.KillOnUrl": 990}
    cluster = make_cluster(small_replica, redis_server.url, GMW_POSTGRES_DSN=own_postgres_dsn, GMW_MAX_ATTEMPTS="2",
                           DOWNLOADER_MIDDLEWARES=json.dumps(middlewares), TEST_KILL_ON_URL=urlsplit(poison).path)
    codes = sorted(cluster.wait(cluster.start(3, *SPIDER)))
    assert codes == [-9, -9, 0], cluster.logs()[-3000:]
    with psycopg.connect(own_postgres_dsn) as conn:
        rows = Counter(url for (url,) in conn.execute("SELECT url FROM gmw_articles"))
    want = wanted_urls(truth) - {poison}
    twins = {u for u in want if truth[u]["kind"] in ("dup_a", "dup_b")}
    assert set(rows.values()) == {1} and not (want - twins) - set(rows), sorted((want - twins) - set(rows))[:5]
    # the killed workers' feeds hold what they delivered
    assert {i["url"] for proc in cluster.procs for i in cluster.feed(proc)} == set(rows)
    [dead] = [json.loads(x) for x in cluster.redis.lrange(cluster.key("requests:failed"), 0, -1)]
    assert dead["url"] == poison and dead["reason"].startswith("lease expired 2 times")
    assert_run_finished(cluster)
    listed = cluster.scrapy_gmw("failed")
    assert poison in listed.stdout and "lease expired 2 times" in listed.stdout


def test_redis_at_maxmemory_mid_run_loses_nothing(small_replica, redis_server, make_cluster, own_postgres_dsn):
    """Redis full (maxmemory, noeviction) for a few seconds, then freed. Before, the decision failed with OOM
    as an item error while the lease was acknowledged: every article of those seconds was lost while the
    crawl carried on. Now a refused write is a pause (the worker waits, downloads in flight carry on)."""
    cluster = make_cluster(small_replica, redis_server.url, GMW_POSTGRES_DSN=own_postgres_dsn)
    [worker] = cluster.start(1, *SPIDER)
    wait_for(lambda: len(cluster.feed(worker)) >= 100, "the worker stored nothing", 120, 0.05)
    cluster.redis.config_set("maxmemory-policy", "noeviction")
    # below what it uses: every write that needs memory is refused until the limit goes
    cluster.redis.config_set("maxmemory", cluster.redis.info("memory")["used_memory"] - 200_000)
    time.sleep(5)
    cluster.redis.config_set("maxmemory", 0)
    assert cluster.wait([worker]) == [0], cluster.logs()[-3000:]
    truth = small_replica.truth()
    with psycopg.connect(own_postgres_dsn) as conn:
        rows = [{"url": url} for (url,) in conn.execute("SELECT url FROM gmw_articles")]
    assert_exactly_once(rows, truth)
    assert {i["url"] for i in cluster.feed(worker)} == {r["url"] for r in rows}
    assert cluster.stats()[0].get("gmw/redis/outages", 0) >= 1
    assert "refuses writes (command not allowed when used memory > 'maxmemory'" in cluster.logs()


def test_redis_stalls_that_swallow_replies_lose_and_duplicate_nothing(small_replica, tmp_path, make_cluster,
                                                                     own_postgres_dsn):
    """Redis stalls past the socket timeout (DEBUG SLEEP) again and again while two workers crawl: calls that
    Redis applied but whose replies were lost are tried again. Counted in the table and the feeds. (Which
    call a stall catches is chance; tests/test_leases.py and tests/test_interrupted.py catch one for sure.)"""
    from tests.conftest import RedisServer, free_port, redis_binary

    server = RedisServer(redis_binary(), free_port(), tmp_path, args=("--enable-debug-command", "yes"))
    server.start()
    try:
        cluster = make_cluster(small_replica, server.url, GMW_POSTGRES_DSN=own_postgres_dsn,
                               GMW_REDIS_SOCKET_TIMEOUT="0.5")
        workers = cluster.start(2, *SPIDER)
        wait_for(lambda: sum(len(cluster.feed(w)) for w in workers) >= 50, "the workers stored nothing", 120, 0.05)
        staller = redis.Redis.from_url(server.url)
        stalls, deadline = 0, time.monotonic() + 8
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            staller.execute_command("DEBUG", "SLEEP", "0.7")  # past the workers' 0.5 s socket timeout
            stalls += 1
            time.sleep(0.5)
        staller.close()
        assert stalls >= 2
        assert cluster.wait(workers) == [0, 0], cluster.logs()[-3000:]
        truth = small_replica.truth()
        rows = postgres_rows(own_postgres_dsn)
        assert_exactly_once(rows, truth)
        assert {i["url"] for w in workers for i in cluster.feed(w)} == {r["url"] for r in rows}
        assert_exactly_once(cluster.items(), truth)
    finally:
        server.stop()


def test_redis_that_loses_its_last_writes_mid_run_loses_nothing(small_replica, redis_server, make_cluster,
                                                                 own_postgres_dsn):
    """What a crash with appendfsync everysec or a failover to a replica behind does: the shared state goes
    back two seconds — acknowledgements, decisions, fingerprints undone, entry ids handed out again. Workers
    still holding leases from those seconds must neither delete the requests that now carry their numbers
    (fenced leases) nor lose articles the seen-store forgot it had delivered. (The crawl before fencing passed
    this too, once: a request deleted by an old lease is mostly queued again when its parent, also rolled back,
    is fetched again. tests/test_leases.py shows the fencing itself.)"""
    cluster = make_cluster(small_replica, redis_server.url, GMW_POSTGRES_DSN=own_postgres_dsn)
    workers = cluster.start(2, *SPIDER)
    wait_for(lambda: sum(len(cluster.feed(w)) for w in workers) >= 150, "the workers stored nothing", 120, 0.05)
    keys = list(cluster.redis.scan_iter(f"{cluster.namespace}:*"))
    snapshot = cluster.redis.pipeline(transaction=True)
    for key in keys:
        snapshot.dump(key)
        snapshot.pttl(key)
    dumped = snapshot.execute()
    time.sleep(2)
    rollback = cluster.redis.pipeline(transaction=True)
    now = list(cluster.redis.scan_iter(f"{cluster.namespace}:*"))
    if now:
        rollback.delete(*now)
    for key, value, ttl in zip(keys, dumped[::2], dumped[1::2], strict=True):
        if value is not None:
            rollback.restore(key, max(ttl, 0), value, replace=True)
    rollback.execute()
    assert cluster.wait(workers) == [0, 0], cluster.logs()[-3000:]
    truth = small_replica.truth()
    rows = postgres_rows(own_postgres_dsn)
    assert_exactly_once(rows, truth)
    assert {i["url"] for w in workers for i in cluster.feed(w)} == {r["url"] for r in rows}
    assert_run_finished(cluster)


def test_redis_restart_mid_run(big_replica, redis_server, make_cluster):
    cluster = make_cluster(big_replica, redis_server.url)
    procs = cluster.start(2, *SPIDER)
    wait_for_items(cluster, 400)
    redis_server.restart(down_for=3)
    assert cluster.wait(procs) == [0, 0], cluster.logs()[-3000:]
    assert_exactly_once(cluster.items(), big_replica.truth())
    assert_run_finished(cluster)
    assert "unreachable" in cluster.logs() and "is back" in cluster.logs()


def test_a_long_outage_ends_the_worker_clearly_and_its_work_is_recovered(big_replica, redis_server, make_cluster):
    cluster = make_cluster(big_replica, redis_server.url, GMW_REDIS_OUTAGE_TIMEOUT="3")
    (worker,) = cluster.start(1, *SPIDER)
    wait_for_items(cluster, 200)
    redis_server.stop()
    assert cluster.wait([worker], timeout=60) == [1]  # non-zero: a timer or monitor notices
    log = cluster.logs()
    assert "unreachable for" in log and "ending this worker" in log and "Traceback" not in log
    redis_server.start()
    assert cluster.wait(cluster.start(2, *SPIDER)) == [0, 0], cluster.logs()[-3000:]
    assert_exactly_once(cluster.items(), big_replica.truth())
    assert_run_finished(cluster)


CRAWLED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[scrapy\.core\.engine\] DEBUG: Crawled \(\d+\) <GET (\S+)>",
                     re.MULTILINE)


def test_downloads_in_flight_finish_during_a_redis_outage(redis_server, make_cluster):
    """Issue #16: through an outage the worker pauses without holding up the reactor. Before, the guard
    slept on the reactor thread, so a response on its way in was read only once Redis was back."""
    slow = start_replica("--articles", "60", "--seed", "7", "--latency", "1.5", "--no-faults")
    try:
        cluster = make_cluster(slow, redis_server.url, CONCURRENT_REQUESTS_PER_DOMAIN="4", AUTOTHROTTLE_ENABLED="0",
                               DOWNLOAD_DELAY="0", GMW_REDIS_OUTAGE_TIMEOUT="12", GMW_LEASE_TIMEOUT="14")
        (worker,) = cluster.start(1, "start_urls=https://politics.gmw.cn/node_9844.htm", "follow_related=0")
        wait_for_items(cluster, 2)
        # until a download has just been sent: it is answered 1.5 s later
        wait_for(lambda: any(t > time.time() - 0.3 for t, _ in slow.hitlog()), "no request reached the replica",
                 interval=0.05)
        outage_start = time.time()
        redis_server.stop()
        time.sleep(8)
        outage_end = time.time()
        redis_server.start()
        assert cluster.wait([worker]) == [0], cluster.logs()[-3000:]
        hits = slow.hitlog()
    finally:
        stop_replica(slow)
    log = cluster.logs()
    # sent in the 1.2 s before the outage, answered 1.5 s after being sent: in flight when Redis went away
    in_flight = {url: t for t, url in hits if outage_start - 1.2 <= t <= outage_start}
    assert in_flight, "no download was in flight when Redis stopped"
    crawled: dict[str, list[float]] = {}
    for stamp, url in CRAWLED.findall(log):
        crawled.setdefault(url, []).append(time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")))
    # the log's stamps have whole seconds: the answer to this request is the first "Crawled" from its second on
    read_at = {url: min((c for c in crawled.get(url, []) if c >= int(sent)), default=float("inf"))
               for url, sent in in_flight.items()}
    late = {url: round(at - outage_start, 1) for url, at in read_at.items() if at >= outage_end - 2}
    assert late == {}, f"responses read only after Redis came back ({outage_end - outage_start:.1f} s): {late}"
    assert "downloads in progress carry on" in log and "is back" in log and "Traceback" not in log
    stored = Counter(i["url"] for i in cluster.items())
    assert stored and max(stored.values()) == 1  # each article stored once, the outage notwithstanding
    assert_run_finished(cluster)


@pytest.mark.parametrize("workers", [1, 3])
def test_global_rate_limit_holds_across_workers(big_replica, redis_server, make_cluster, workers):
    """Measured by the replica's own log of requests to politics.gmw.cn."""
    rate = 8.0
    cluster = make_cluster(big_replica, redis_server.url, GMW_GLOBAL_RATE=str(rate), CONCURRENT_REQUESTS_PER_DOMAIN="16")
    start = time.time()
    procs = cluster.start(workers, "start_urls=https://politics.gmw.cn/node_9844.htm", "max_list_pages=3",
                          "follow_related=0")
    assert cluster.wait(procs) == [0] * workers
    hits = [t for t, url in big_replica.hitlog()
            if t >= start and url.startswith("https://politics.gmw.cn/")]
    assert len(hits) >= 60
    measured = (len(hits) - 1) / (max(hits) - min(hits))
    print(f"global rate, {workers} worker(s): {measured:.2f} requests/s to politics.gmw.cn for GMW_GLOBAL_RATE={rate}")
    assert abs(measured - rate) / rate <= 0.10, measured


def test_poisoned_queue_entries_are_rejected_not_run(replica, redis_server, make_cluster):
    cluster = make_cluster(replica, redis_server.url)
    marker = cluster.tmp / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    poison = [
        pickle.dumps(Exploit()),
        json.dumps({"url": "https://politics.gmw.cn/node_9844.htm", "callback": "__init__"}),
        json.dumps({"url": "https://politics.gmw.cn/node_9844.htm", "_class": "os.system", "callback": "parse_listing"}),
        json.dumps({"url": "file:///etc/passwd", "callback": "parse_listing"}),
        # an internal address past the offsite check, robots.txt, the size limit and the rate slot (SSRF)
        json.dumps({"url": "http://169.254.169.254/latest/meta-data/", "callback": "parse_listing", "dont_filter": True,
                    "meta": {"dont_obey_robotstxt": True, "download_maxsize": 0, "proxy": "http://169.254.169.254:80",
                             "download_slot": "own"}}),
    ]
    # without dont_filter the entry is read (the proxy it names dropped) and the offsite check stops it
    offsite = json.dumps({"url": "http://169.254.169.254/latest/user-data", "callback": "parse_listing",
                          "meta": {"proxy": "http://169.254.169.254:80"}})
    for n, payload in enumerate([*poison, offsite], start=1):
        cluster.redis.hset(cluster.key("requests:payloads"), f"p{n}", payload)
        cluster.redis.zadd(cluster.key("requests"), {f"p{n}": -10**15})
    before = replica.hits()
    assert cluster.wait(cluster.start(1, "start_urls=https://politics.gmw.cn/node_9844.htm")) == [0]
    assert not marker.exists()
    assert cluster.stats()[0]["gmw/queue/rejected"] == 5
    assert cluster.redis.llen(cluster.key("requests:rejected")) == 5
    assert "meta key 'dont_obey_robotstxt' is not one this crawler writes" in cluster.logs()
    assert not [url for url in replica.hits() if "169.254" in url and url not in before]  # nothing left for it
    assert cluster.items()  # the crawl went on


def test_finished_run_does_nothing_and_a_new_run_fetches_only_new(redis_server, make_cluster):
    replica = start_replica("--articles", "40", "--seed", "9", "--no-faults")
    try:
        cluster = make_cluster(replica, redis_server.url)
        assert cluster.wait(cluster.start(2)) == [0, 0]
        first = len(cluster.items())

        before = replica.hits()
        assert cluster.wait(cluster.start(1)) == [0]
        assert replica.hits() == before  # a finished run: nothing fetched
        assert "run_already_finished" in cluster.logs()
        assert cluster.scrapy_gmw("seed").stdout.startswith("seeded new run")
        assert "still in progress" in cluster.scrapy_gmw("seed").stdout  # idempotent while running

        new = json.loads(replica.get("/__replica__/publish?count=5"))
        before = replica.hits()
        assert cluster.wait(cluster.start(2)) == [0, 0]
        fetched = {u for u, n in replica.hits().items() if n > before.get(u, 0) and "/content_" in u}
        assert {u.split("_")[0] for u in fetched} <= {u.split(".htm")[0].split("_")[0] for u in new}
        assert len(cluster.items()) == first + 5
        status = json.loads(cluster.scrapy_gmw("status", "--json").stdout)
        assert status["run"]["state"] == "finished" and status["queued"] == 0 and status["leased"] == 0
        assert status["items_stored"] == first + 5 and len(status["workers"]) >= 2
    finally:
        stop_replica(replica)


@pytest.mark.slow
def test_unreachable_redis_is_one_clear_line(tmp_path):
    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-s",
                           "GMW_REDIS_URL=redis://crawler:s3cret@127.0.0.1:1/0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "cannot connect to Redis at redis://crawler:***@127.0.0.1:1/0" in errors[0]
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("settings", "names"), [
    (("GMW_LEASE_TIMEOUT=0",), ("GMW_LEASE_TIMEOUT='0'",)),
    (("GMW_LEASE_TIMEOUT=30", "GMW_REDIS_OUTAGE_TIMEOUT=60"), ("GMW_LEASE_TIMEOUT=30", "GMW_REDIS_OUTAGE_TIMEOUT=60")),
    (("GMW_HEARTBEAT_INTERVAL=0",), ("GMW_HEARTBEAT_INTERVAL='0'",)),
])
@pytest.mark.slow
def test_settings_that_contradict_each_other_are_one_line_before_anything_is_fetched(settings, names, tmp_path):
    command = [PYTHON, "-m", "scrapy", "crawl", "politics", "-s", "GMW_REDIS_URL=redis://127.0.0.1:1/0"]
    for setting in settings:
        command += ["-s", setting]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and all(name in errors[0] for name in names), done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_crawl_with_bloom_fingerprints(replica, redis_server, make_cluster):
    cluster = make_cluster(replica, redis_server.url, GMW_DUPEFILTER="bloom", GMW_BLOOM_CAPACITY="100000")
    assert cluster.wait(cluster.start(2, "start_urls=https://politics.gmw.cn/node_9844.htm")) == [0, 0]
    urls = Counter(i["url"] for i in cluster.items())
    assert urls and max(urls.values()) == 1


def test_robots_txt_holds_for_requests_that_wait_for_it(replica, redis_server, make_cluster):
    """A worker that starts with many queued requests for a host: all wait for its robots.txt,
    and every one is checked (Scrapy 2.19 let all but one through; gmwcrawler/politeness/robotstxt.py)."""
    cluster = make_cluster(replica, redis_server.url)
    truth = replica.truth()
    forbidden = next(u for u, t in truth.items() if t["kind"] == "robots_forbidden")
    others = [u for u, t in truth.items() if t["kind"] == "regular" and t["listed"]][:30]
    urls = others[:5] + [forbidden] + others[5:]  # not the request that starts the robots.txt download
    for n, url in enumerate(urls, start=1):
        payload = {"url": url, "callback": "parse_article", "errback": "article_failed", "meta": {"gmw_article": True},
                   "priority": 0, "dont_filter": True, "cb_kwargs": {"depth": 1}}
        cluster.redis.hset(cluster.key("requests:payloads"), f"q{n}", json.dumps(payload))
        cluster.redis.zadd(cluster.key("requests"), {f"q{n}": -10**15 + n})
    before = replica.hits().get(forbidden, 0)
    assert cluster.wait(cluster.start(1, "start_urls=https://politics.gmw.cn/node_9844.htm", "follow_related=0")) == [0]
    assert replica.hits().get(forbidden, 0) == before
    assert cluster.stats()[0].get("robotstxt/forbidden") == 1


def test_a_retry_after_pauses_the_site_for_every_worker(redis_server, make_cluster):
    """The replica answers one request with 429 and `Retry-After: 30` while three workers crawl: its own log
    shows no request to any gmw.cn host for the next 30 s but those already on their way when the worker that
    got the 429 told the others (the pause key in Redis: a request that passed the send gate before it may
    still arrive, within a quarter of a second), then the crawl resumes and finishes."""
    replica = start_replica("--articles", "200", "--seed", "13", "--no-faults")
    try:
        cluster = make_cluster(replica, redis_server.url, CONCURRENT_REQUESTS_PER_DOMAIN="4", GMW_GLOBAL_RATE="0",
                               AUTOTHROTTLE_ENABLED="0", DOWNLOAD_DELAY="0")
        workers = cluster.start(3, *SPIDER)
        wait_for_items(cluster, 30)
        replica.get("/__replica__/throttle?status=429&retry_after=30&count=1")
        pause = cluster.key("pause:gmw.cn")
        ttl = wait_for(lambda: max(cluster.redis.pttl(pause), 0), "no pause reached Redis", 60, 0.01)
        told = time.time() - (30_000 - ttl) / 1000  # when the key was set, from its time to live
        assert cluster.wait(workers) == [0, 0, 0], cluster.logs()[-3000:]
        [answered] = json.loads(replica.get("/__replica__/throttled.json"))
        hits = replica.hitlog()
        truth = replica.truth()
    finally:
        stop_replica(replica)
    assert told - answered < 5, f"the pause reached Redis {told - answered:.2f} s after the 429"
    during = [(round(t - answered, 2), url) for t, url in hits if told + 0.25 < t < answered + 30 and ".gmw.cn" in url]
    assert during == [], f"the pause reached Redis {told - answered:.2f} s after the 429"
    print(f"the pause reached Redis {told - answered:.3f} s after the 429; the last request on its way arrived "
          f"{max(t for t, _ in hits if t < answered + 30) - told:.3f} s after that")
    assert any(t >= answered + 30 for t, _ in hits)  # and then it went on
    assert_exactly_once(cluster.items(), truth)
    assert "answered 429 (Retry-After: 30): pausing gmw.cn for 30 s" in cluster.logs()
    stats = cluster.stats()
    assert sum(s.get("gmw/site/pauses", 0) for s in stats) >= 1 and max(s.get("gmw/site/pause_max_s", 0) for s in stats) == 30
