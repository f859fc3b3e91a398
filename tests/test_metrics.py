"""Prometheus metrics, alert rules and the Grafana dashboard (issue #14).

promtool (Debian's `prometheus` package; .ci/run installs it) checks the written metrics and the
rules, and runs the rules' unit tests; Debian's `prometheus-pushgateway` receives pushes. Where
they are missing these tests skip saying so, except under GMW_REQUIRE_PROMTOOL=1 (CI): they fail.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scrapy.settings import Settings

from gmwcrawler.health.metrics import GAUGES, VERDICTS, metric_names, publish
from tests.conftest import ROOT, free_port, run_crawl, start_replica, stop_replica

DEPLOY = ROOT / "deploy"


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("GMW_REQUIRE_PROMTOOL"):
        pytest.fail("promtool is not installed (GMW_REQUIRE_PROMTOOL=1): apt-get install prometheus")
    pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")


def samples(path: Path) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels without spider/namespace): value}"""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("spider", "namespace")))
            out[(sample.name, labels)] = sample.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def metrics_crawl(tmp_path_factory):
    replica = start_replica("--articles", "40", "--seed", "3")
    tmp = tmp_path_factory.mktemp("metrics")
    try:
        result = run_crawl(replica, tmp, settings={"GMW_METRICS_DIR": str(tmp / "textfile")})
    finally:
        stop_replica(replica)
    report = json.loads((tmp / "items.jsonl.report.json").read_text())
    return result, report, tmp / "textfile" / "gmwcrawler_politics.prom"


def test_a_crawl_leaves_metrics_that_promtool_accepts(metrics_crawl):
    _, _, path = metrics_crawl
    done = subprocess.run([promtool(), "check", "metrics"], input=path.read_text(), capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # written atomically: no temporary left


def test_the_metrics_are_the_run_reports(metrics_crawl):
    result, report, path = metrics_crawl
    assert result.returncode == 0
    found = samples(path)
    assert value(found, "gmw_run_pages") == report["pages"]
    assert value(found, "gmw_run_requests") == report["requests"] == result.stat("downloader/request_count")
    assert value(found, "gmw_run_items_stored") == report["items_stored"]
    assert value(found, "gmw_run_items", outcome="new") == report["decisions"]["new"] > 0
    for reason, n in report["dropped"].items():
        assert value(found, "gmw_run_dropped_items", reason=reason) == n
    for kind, n in report["errors"].items():
        assert value(found, "gmw_run_errors", kind=kind) == n
    assert value(found, "gmw_run_error_ratio") == report["error_rate"]
    assert value(found, "gmw_run_requests_per_new_article") == pytest.approx(report["requests"] / report["decisions"]["new"])
    assert value(found, "gmw_run_not_modified_responses") == report["revisits"]["not_modified"]
    for field, paths in report["extraction"].items():
        for extraction_path, n in paths.items():
            assert value(found, "gmw_extraction_articles", field=field, path=extraction_path) == n
    assert value(found, "gmw_run_verdict", verdict="ok") == 1
    assert sum(value(found, "gmw_run_verdict", verdict=v) for v in VERDICTS) == 1
    assert value(found, "gmw_run_running") == 0
    end = value(found, "gmw_run_end_timestamp_seconds")
    assert value(found, "gmw_last_success_timestamp_seconds") == end >= value(found, "gmw_run_start_timestamp_seconds")
    assert value(found, "gmw_publish_to_store_delay_seconds_count") == report["freshness"]["new_articles"] > 0


def test_a_failed_run_keeps_the_last_success(metrics_crawl, tmp_path):
    _, report, path = metrics_crawl
    folder = tmp_path / "textfile"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    last = value(samples(path), "gmw_last_success_timestamp_seconds")
    failed = {**report, "verdict": "no_articles", "end": "2099-01-01T00:00:00+00:00"}
    publish(failed, Settings({"GMW_METRICS_DIR": str(folder)}), passed=False)
    found = samples(folder / path.name)
    assert value(found, "gmw_run_verdict", verdict="no_articles") == 1
    assert value(found, "gmw_last_success_timestamp_seconds") == last


@pytest.mark.slow
def test_a_run_that_cannot_start_says_so_in_its_metrics(tmp_path):
    done = subprocess.run([*_crawl_cmd(), "-s", f"GMW_METRICS_DIR={tmp_path}", "-s", "GMW_NEAR_DUP_THRESHOLD=7",
                           "-s", f"GMW_STATE_DIR={tmp_path / 'state'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    found = samples(tmp_path / "gmwcrawler_politics.prom")
    assert value(found, "gmw_run_verdict", verdict="failed_to_start") == 1
    assert ("gmw_last_success_timestamp_seconds", ()) not in found


@pytest.mark.slow
def test_an_unwritable_metrics_dir_is_one_line_before_the_crawl(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = subprocess.run([*_crawl_cmd(), "-s", f"GMW_METRICS_DIR={blocker / 'sub'}", "-s",
                           f"GMW_STATE_DIR={tmp_path / 'state'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if "error:" in line] == [
        f"__main__.py: error: GMW_METRICS_DIR: cannot write to {blocker / 'sub'}: Not a directory"]


def _crawl_cmd() -> list[str]:
    from tests.conftest import PYTHON

    return [PYTHON, "-m", "scrapy", "crawl", "politics", "-s", "GMW_SEEN_STORE=memory"]


# -- Pushgateway --------------------------------------------------------------------------------------
class Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, str, str]] = []  # noqa: RUF012 - one server per test, reset by the fixture

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Gateway.received.append(("PUT", self.path, self.headers.get("Authorization", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_metrics_are_pushed_with_credentials_from_the_environment(gateway, metrics_crawl):
    _, report, _ = metrics_crawl
    settings = Settings({"GMW_PUSHGATEWAY_URL": gateway, "GMW_PUSHGATEWAY_USERNAME": "crawler",
                         "GMW_PUSHGATEWAY_PASSWORD": "s3cret", "GMW_REDIS_NAMESPACE": "prod"})
    group = f"/metrics/job/gmwcrawler/instance/{socket.gethostname()}/namespace/prod/spider/politics"
    publish(report, settings, passed=True)
    (run, success) = Gateway.received
    # PUT replaces the whole group: what an earlier run left there (a drift, a drop reason) goes
    assert run[:3] == ("PUT", group, "Basic " + base64.b64encode(b"crawler:s3cret").decode())
    families = {f.name: f for f in text_string_to_metric_families(run[3])}
    assert families["gmw_run_pages"].samples and "gmw_last_success_timestamp_seconds" not in families
    # the last success, a group of its own: a failed run does not touch it
    assert success[:2] == ("PUT", group.replace("/metrics/job/gmwcrawler/", "/metrics/job/gmwcrawler/group/last_success/"))
    assert {f.name for f in text_string_to_metric_families(success[3])} == {"gmw_last_success_timestamp_seconds"}
    Gateway.received.clear()
    publish({**report, "verdict": "no_articles"}, settings, passed=False)
    assert [(method, path) for method, path, _, _ in Gateway.received] == [("PUT", group)]


@pytest.mark.slow
def test_a_real_pushgateway_forgets_an_earlier_runs_drift_but_keeps_the_last_success(tmp_path):
    """Debian's prometheus-pushgateway, on a free loopback port: what an operator's gateway does."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        if os.environ.get("GMW_REQUIRE_PROMTOOL"):
            pytest.fail("prometheus-pushgateway is not installed (GMW_REQUIRE_PROMTOOL=1)")
        pytest.skip("prometheus-pushgateway is not installed (Debian: apt-get install prometheus-pushgateway)")
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([binary, f"--web.listen-address={address}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        settings = Settings({"GMW_PUSHGATEWAY_URL": f"http://{address}"})
        drifted = {"spider": "politics", "verdict": "drift", "start": "2026-12-02T10:00:00+00:00",
                   "end": "2026-12-02T10:05:00+00:00", "pages": 5, "dropped": {"missing_title": 1},
                   "drift": [{"field": "source", "path": "missing", "share": 0.8}]}
        publish(drifted, settings, passed=True)
        publish({**drifted, "verdict": "no_articles", "pages": 3, "dropped": {}, "drift": [],
                 "end": "2026-12-02T10:20:00+00:00"}, settings, passed=False)
        text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
    finally:
        server.terminate()
        server.wait(10)
    found = {(s.name, s.labels.get("verdict")): s.value for f in text_string_to_metric_families(text) for s in f.samples
             if s.name.startswith("gmw_")}
    assert found[("gmw_run_pages", None)] == 3
    assert found[("gmw_run_verdict", "no_articles")] == 1
    assert ("gmw_extraction_drift_ratio", None) not in found and ("gmw_run_dropped_items", None) not in found
    assert found[("gmw_last_success_timestamp_seconds", None)] == datetime.fromisoformat(drifted["end"]).timestamp()


# -- alert rules ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_alert_rules_pass_promtool():
    done = subprocess.run([promtool(), "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_alert_rules_fire_on_crafted_series():
    """deploy/prometheus/alerts_test.yml: no article, drift, no success, a stuck queue, too few workers."""
    done = subprocess.run([promtool(), "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alert_rules_name_only_metrics_the_crawler_writes():
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"\bgmw_[a-z_]+", rules))
    assert used and used <= metric_names(), used - metric_names()


# -- Grafana dashboard -----------------------------------------------------------------------------------
def test_every_dashboard_query_names_a_metric_the_crawler_writes():
    dashboard = json.loads((DEPLOY / "grafana" / "gmwcrawler.json").read_text())
    panels = dashboard["panels"]
    expressions = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert len(expressions) >= 8
    for expr in expressions:
        names = set(re.findall(r"\bgmw_[a-z_]+", expr))
        assert names, f"a query that names no gmwcrawler metric: {expr}"
        assert names <= metric_names(), (expr, names - metric_names())
    titles = " ".join(panel["title"].lower() for panel in panels)
    for topic in ("verdict", "items", "dropped", "requests per new article", "delay", "errors", "extraction",
                  "queue", "workers"):
        assert topic in titles, topic


def test_the_reference_documents_every_metric():
    readme = (ROOT / "docs" / "reference.md").read_text()
    missing = [name for name in (*GAUGES, "gmw_publish_to_store_delay_seconds") if f"`{name}`" not in readme]
    assert missing == []
