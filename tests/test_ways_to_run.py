"""Every documented way to run, end to end (issue #12): scrapyd with the embedded seen-store, the
lines of deploy/cron run as cron runs them, the ExecStart lines of deploy/systemd with the
environment the units give them (project folder read-only, no writable home), the unit files
through `systemd-analyze verify`, the compose file through `docker compose config` — each crawl
against the replica, with what it stored checked against the replica's truth.

`scrapy crawl` in single and Redis mode is tested in test_crawl.py and test_distributed.py, the
scrapyd + Redis path in test_deploy.py."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis

from gmwcrawler.state import state_dir
from tests.conftest import PYTHON, ROOT, start_replica, stop_replica
from tests.deployed import DEPLOY, Scrapyd, Unit, cron_lines, env_file, run_cron_line, start_cron_line

pytestmark = pytest.mark.slow  # every test here runs a crawl, a server or a command (issue #16)

# politeness as deployed (AutoThrottle, delays, GMW_GLOBAL_RATE): these crawls run with the project's
# settings, so the replica is a small one without fault pages (those are test_crawl.py's)
REPLICA_ARGS = ("--articles", "6", "--seed", "3", "--no-faults")


@pytest.fixture(scope="module")
def small_replica():
    replica = start_replica(*REPLICA_ARGS)
    yield replica
    stop_replica(replica)


def proxy_env(replica) -> dict[str, str]:
    """gmw.cn through the replica; scrapyd on loopback directly (as an operator behind a proxy sets it)."""
    return {"http_proxy": replica.base_url, "https_proxy": replica.base_url, "no_proxy": "127.0.0.1,localhost"}


def assert_every_listed_article(urls: list[str], truth: dict[str, dict]) -> None:
    """Each article the replica lists, once; of the one story under two URLs one; robots.txt obeyed."""
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    twins = {u for u, t in truth.items() if t["kind"] in ("dup_a", "dup_b")}
    want = {u for u, t in truth.items() if t["listed"] and t["kind"] != "robots_forbidden"} - twins
    assert set(urls) - twins == want
    assert len(set(urls) & twins) == 1


def feed_urls(path: Path) -> list[str]:
    return [json.loads(line)["url"] for line in path.read_text("utf-8").splitlines()]


def unwritable(tmp_path: Path) -> Path:
    """A state directory nobody can create, root included: its parent is a file."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "state"


# -- where state lives ---------------------------------------------------------------------------------
def test_state_dir_in_a_project_folder_elsewhere_and_when_set(tmp_path, monkeypatch):
    from scrapy.settings import Settings

    monkeypatch.chdir(ROOT)
    assert state_dir(Settings()) == ROOT / ".scrapy" / "gmw"
    monkeypatch.chdir(tmp_path)  # a scrapyd job, a cron job: no scrapy.cfg here or above
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert state_dir(Settings()) == tmp_path / "home" / ".local" / "state" / "gmwcrawler"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir(Settings()) == tmp_path / "xdg" / "gmwcrawler"
    assert state_dir(Settings({"GMW_STATE_DIR": str(tmp_path / "mine")})) == tmp_path / "mine"


def test_unwritable_state_dir_stops_scrapy_crawl_before_any_request(small_replica, tmp_path):
    before = small_replica.hits()
    env = {**small_replica.env(), "GMW_STATE_DIR": str(unwritable(tmp_path))}
    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-O", str(tmp_path / "out.jsonl")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "state directory" in errors[0] and "a-file/state" in errors[0], done.stderr
    assert small_replica.hits() == before  # nothing fetched
    report = json.loads((tmp_path / "out.jsonl.report.json").read_text())
    assert report["verdict"] == "failed_to_start" and "state directory" in report["message"]


def test_unreadable_seen_store_stops_scrapy_crawl(small_replica, tmp_path):
    (tmp_path / "seen.sqlite3").write_bytes(b"not a database, e.g. a disk that filled up" * 100)
    env = {**small_replica.env(), "GMW_STATE_DIR": str(tmp_path)}
    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-O", str(tmp_path / "out.jsonl")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"seen-store (SQLite {tmp_path}/seen.sqlite3) cannot start" in done.stderr


# -- scrapyd, one node, the embedded seen-store (the path that crashed: issue #12) ---------------------
@pytest.fixture
def scrapyd_single(tmp_path, small_replica):
    """scrapyd started by deploy/systemd/gmwcrawler-scrapyd.service's ExecStart, with /etc/gmwcrawler/env
    holding no GMW_REDIS_URL: every job uses the node's own seen-store in the unit's state directory."""
    unit = Unit("gmwcrawler-scrapyd.service", tmp_path / "root")
    environment = env_file(tmp_path / "env", {"GMW_CONTACT_URL": "https://example.org/contact", **proxy_env(small_replica)})
    server = Scrapyd(tmp_path / "scrapyd", {}, unit=(unit, environment))
    server.unit = unit
    deployed = server.deploy(tmp_path)
    assert deployed.returncode == 0 and '"status": "ok"' in deployed.stdout, deployed.stderr
    yield server
    server.stop()


def test_scrapyd_single_node_stores_every_listed_article_and_remembers_them(scrapyd_single, small_replica):
    first = scrapyd_single.schedule(("follow_related", "1"), ("max_list_pages", "5"))
    (job,) = scrapyd_single.wait_finished(1)
    assert job["id"] == first
    log = scrapyd_single.job_log(first)
    assert "Traceback" not in log and "Disabled gmwcrawler" not in log, log[-3000:]
    state = Path(scrapyd_single.unit.path("/var/lib/gmwcrawler"))
    assert f"Seen-store: SQLite {state}/seen.sqlite3" in log
    assert_every_listed_article(feed_urls(scrapyd_single.feed(first)), small_replica.truth())
    report = json.loads(Path(f"{scrapyd_single.feed(first)}.report.json").read_text())
    assert report["verdict"] == "ok" and report["items_stored"] > 0
    metrics = (state / "metrics" / "gmwcrawler_politics.prom").read_text()  # the unit's GMW_METRICS_DIR (issue #14)
    assert f'gmw_run_items_stored{{namespace="",spider="politics"}} {float(report["items_stored"])}' in metrics

    # the next scheduled job: the same node's seen-store, nothing stored twice
    second = scrapyd_single.schedule()
    scrapyd_single.wait_finished(2)
    assert feed_urls(scrapyd_single.feed(second)) == []
    report = json.loads(Path(f"{scrapyd_single.feed(second)}.report.json").read_text())
    assert report["verdict"] == "ok" and report["skipped_already_stored"] > 0
    assert "Process died" not in scrapyd_single.log_path.read_text()


def test_scrapyd_job_with_unwritable_state_dir_fails_with_one_line(scrapyd_single, small_replica, tmp_path):
    before = small_replica.hits()
    job = scrapyd_single.schedule(("setting", f"GMW_STATE_DIR={unwritable(tmp_path)}"))
    scrapyd_single.wait_finished(1)
    log = scrapyd_single.job_log(job)
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Crawl not started: state directory" in errors[0], log
    assert "Traceback" not in log
    assert small_replica.hits() == before
    assert "Process died: exitstatus=2" in scrapyd_single.log_path.read_text()
    report = json.loads(Path(f"{scrapyd_single.feed(job)}.report.json").read_text())
    assert report["verdict"] == "failed_to_start"


def test_gmwrun_says_nodes_without_redis_do_not_share_a_seen_store(scrapyd_single):
    env = {**scrapyd_single.client_env(), "GMW_SCRAPYD_NODES": f"{scrapyd_single.url},{scrapyd_single.url}"}
    env.pop("GMW_REDIS_URL", None)
    done = subprocess.run([PYTHON, "-m", "scrapy", "gmwrun", "-a", "start_urls=https://politics.gmw.cn/node_9844.htm",
                           "-a", "max_list_pages=1", "-a", "follow_related=0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "each of the 2 nodes keeps its own seen-store" in done.stderr
    assert done.stdout.count("scheduled job") == 2
    scrapyd_single.wait_finished(2)


# -- cron ------------------------------------------------------------------------------------------------
def test_cron_file_has_one_line_per_mode():
    lines = cron_lines()
    assert len(lines) == 3
    assert "scrapy gmwrun" in lines[0] and "scrapy gmw seed" in lines[1] and "gmw seed" not in lines[2]


def test_cron_line_single_machine(small_replica, tmp_path):
    (line,) = [x for x in cron_lines() if "crawl politics" in x and "gmw seed" not in x]
    state = tmp_path / "root" / "var" / "lib" / "gmwcrawler"
    # the env file as deploy/README.md has it for cron, GMW_METRICS_DIR included (issue #14)
    environment = env_file(tmp_path / "env", {"GMW_STATE_DIR": str(state), "GMW_METRICS_DIR": str(state / "metrics"),
                                              **proxy_env(small_replica)})
    done = run_cron_line(line, tmp_path / "root", environment)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (feed,) = (state / "feeds").glob("*.jsonl")
    assert_every_listed_article(feed_urls(feed), small_replica.truth())
    assert (state / "seen.sqlite3").exists()
    metrics = (state / "metrics" / "gmwcrawler_politics.prom").read_text()
    assert 'gmw_run_verdict{namespace="",spider="politics",verdict="ok"} 1.0' in metrics
    log = (tmp_path / "root" / "var" / "log" / "gmwcrawler" / "crawl.log").read_text()
    assert "Run report written to" in log and "Traceback" not in log


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def test_cron_worker_line_and_systemd_worker_unit_share_one_redis_run(small_replica, redis_server, namespace, tmp_path):
    """Redis without scrapyd: the cron line and a worker@ unit, side by side, are two workers of one run."""
    (line,) = [x for x in cron_lines() if "gmw seed" in x]
    environment = env_file(tmp_path / "env", {"GMW_REDIS_URL": redis_server.url, "GMW_REDIS_NAMESPACE": namespace,
                                              **proxy_env(small_replica)})
    client = redis.Redis.from_url(redis_server.url)
    cron = start_cron_line(line, tmp_path / "root", environment)
    deadline = time.monotonic() + 60
    while client.hget(f"{namespace}:politics:run", "state") != b"running":  # its `scrapy gmw seed` opened the run
        assert time.monotonic() < deadline and cron.poll() is None
        time.sleep(0.1)
    worker = Unit("gmwcrawler-worker@.service", tmp_path / "root", instance="1")
    started = worker.start(environment, tmp_path / "worker.log")
    assert started.wait(300) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert cron.wait(300) == 0, (tmp_path / "root" / "var" / "log" / "gmwcrawler" / "crawl.log").read_text()[-3000:]
    stored = [json.loads(x)["url"] for x in client.lrange(f"{namespace}:politics:items", 0, -1)]
    client.close()
    assert_every_listed_article(stored, small_replica.truth())
    feeds = list((tmp_path / "root" / "var" / "lib" / "gmwcrawler" / "feeds").glob("*.jsonl"))
    assert len(feeds) == 2 and sorted(url for f in feeds for url in feed_urls(f)) == sorted(stored)
    assert list(Path(worker.path("/var/lib/gmwcrawler")).glob("reports/politics-*.json"))  # the unit's feed name has %(time)s
    # the unit's GMW_METRICS_DIR (issue #14): the Redis-wide gauges with the run's values
    metrics = (Path(worker.path("/var/lib/gmwcrawler")) / "metrics" / f"gmwcrawler_politics_{namespace}.prom").read_text()
    assert f'gmw_run_verdict{{namespace="{namespace}",spider="politics",verdict="ok"}} 1.0' in metrics
    assert "gmw_redis_workers_alive{" in metrics and "gmw_redis_queue_requests{" in metrics


@pytest.fixture
def news_replica():
    """A replica of this test's own: it publishes, which the module's shared one must not see."""
    replica = start_replica(*REPLICA_ARGS)
    yield replica
    stop_replica(replica)


def test_systemd_watch_units_are_one_fleet_with_one_poller(news_replica, redis_server, namespace, tmp_path):
    """Two gmwcrawler-watch@ units on one Redis (WATCH_SECONDS from /etc/gmwcrawler/env): every listed article
    stored once, one published while they watch stored by the next poll, one of them polling (its metrics say
    which), `systemctl stop` (SIGTERM) ends both with exit 0 and their run reports."""
    environment = env_file(tmp_path / "env", {"GMW_REDIS_URL": redis_server.url, "GMW_REDIS_NAMESPACE": namespace,
                                              "WATCH_SECONDS": "10", **proxy_env(news_replica)})
    client = redis.Redis.from_url(redis_server.url)
    (tmp_path / "root").mkdir()
    units = [Unit("gmwcrawler-watch@.service", tmp_path / "root", instance=str(n)) for n in (1, 2)]
    procs = [unit.start(environment, tmp_path / f"watch{n}.log") for n, unit in enumerate(units, 1)]

    def stored() -> list[str]:
        return [json.loads(x)["url"] for x in client.lrange(f"{namespace}:politics:items", 0, -1)]

    try:
        truth = news_replica.truth()
        listed = {u for u, t in truth.items() if t["listed"] and t["kind"] != "robots_forbidden"}
        deadline = time.monotonic() + 180
        while len(set(stored()) | {u for u, t in truth.items() if t["kind"] in ("dup_a", "dup_b")}) < len(listed):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "the first pass did not end"
            time.sleep(0.5)
        published = json.loads(news_replica.get("/__replica__/publish?count=2"))
        fresh = [u for u in published if news_replica.truth()[u]["listed"]]  # the other only through 相关阅读
        deadline = time.monotonic() + 60
        while not set(fresh) <= set(stored()):
            assert time.monotonic() < deadline, "the article published while they watch was not stored"
            time.sleep(0.5)
        time.sleep(11)  # each unit refreshes its metrics every GMW_METRICS_INTERVAL (10 s)
        metrics = Path(units[0].path("/var/lib/gmwcrawler/metrics"))
        polling = {}
        for n in (1, 2):
            text = (metrics / f"gmwcrawler_politics_{namespace}_watch-{n}.prom").read_text()
            polling[n] = float(re.search(r"^gmw_watch_polling\{[^}]*\} (\S+)$", text, re.MULTILINE).group(1))
            assert f'worker="watch-{n}"' in text and "gmw_watch_last_poll_timestamp_seconds{" in text
        assert sorted(polling.values()) == [0.0, 1.0], polling
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(120) for p in procs]
    logs = [(tmp_path / f"watch{n}.log").read_text() for n in (1, 2)]
    assert codes == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    urls = stored()
    client.close()
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    assert set(fresh) <= set(urls) and "Traceback" not in logs[0] + logs[1]
    reports = list(Path(units[0].path("/var/lib/gmwcrawler")).glob("reports/politics-*.json"))  # the feed name has %(time)s
    assert len(reports) == 2
    for report in (json.loads(r.read_text()) for r in reports):
        assert report["verdict"] == "ok" and report["finish_reason"] == "shutdown" and report["watch"]["interval_s"] == 10


# -- systemd timer → scrapyd unit → jobs, and the cron line that does the same -------------------------
def test_systemd_schedule_and_cron_gmwrun_with_scrapyd_and_redis(small_replica, redis_server, namespace, tmp_path):
    root = tmp_path / "root"
    environment = env_file(tmp_path / "env", {"GMW_REDIS_URL": redis_server.url, "GMW_REDIS_NAMESPACE": namespace,
                                              **proxy_env(small_replica)})
    server = Scrapyd(tmp_path / "scrapyd", {}, unit=(Unit("gmwcrawler-scrapyd.service", root), environment))
    try:
        assert server.deploy(tmp_path).returncode == 0
        env_file(environment, {"GMW_REDIS_URL": redis_server.url, "GMW_REDIS_NAMESPACE": namespace,
                               "GMW_SCRAPYD_NODES": server.url, "SCRAPYD_USERNAME": server.user,
                               "SCRAPYD_PASSWORD": server.password, **proxy_env(small_replica)})
        tick = Unit("gmwcrawler-schedule.service", root).run(environment)
        assert tick.returncode == 0, tick.stderr
        assert "seeded run" in tick.stdout and "scheduled job" in tick.stdout
        (line,) = [x for x in cron_lines() if "gmwrun" in x]
        cron = run_cron_line(line, root, environment)  # the next tick, by cron, while the run goes on
        assert cron.returncode == 0
        assert "still in progress; nothing scheduled" in (root / "var" / "log" / "gmwcrawler" / "gmwrun.log").read_text()
        (job,) = server.wait_finished(1)
        client = redis.Redis.from_url(redis_server.url)
        stored = [json.loads(x)["url"] for x in client.lrange(f"{namespace}:politics:items", 0, -1)]
        client.close()
        assert_every_listed_article(stored, small_replica.truth())
        assert sorted(feed_urls(server.feed(job["id"]))) == sorted(stored)
    finally:
        server.stop()


# -- the files themselves --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.name for p in (DEPLOY / "systemd").iterdir()))
def test_systemd_analyze_verify(name, tmp_path):
    """Each unit as systemd reads it; its ExecStart pointed at this checkout's .venv (verify checks it exists)."""
    for unit in (DEPLOY / "systemd").iterdir():  # a timer is verified with the service it starts
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/gmwcrawler/.venv/bin/", f"{Path(PYTHON).parent}/"))
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_docker_compose_config():
    docker = shutil.which("docker")
    compose = [docker, "compose"] if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                                              check=False).returncode == 0 else None
    if compose is None:
        pytest.skip("no Docker CLI with the compose plugin here (Debian 12 packages only compose v1, end of life)")
    env = {"GMW_REDIS_PASSWORD": "x", "SCRAPYD_USERNAME": "u", "SCRAPYD_PASSWORD": "p", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr

