"""Prometheus metrics, alert rules and the Grafana dashboard (issue #14).

promtool (Debian's `prometheus` package; .ci/run installs it) checks the written metrics and the
rules, and runs the rules' unit tests. Where it is missing these tests skip saying so, except
under GMW_REQUIRE_PROMTOOL=1 (CI), where they fail.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scrapy.settings import Settings

from gmwcrawler.metrics import GAUGES, VERDICTS, metric_names, publish
from tests.conftest import ROOT, run_crawl, start_replica, stop_replica

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


def test_a_run_that_cannot_start_says_so_in_its_metrics(tmp_path):
    done = subprocess.run([*_crawl_cmd(), "-s", f"GMW_METRICS_DIR={tmp_path}", "-s", "GMW_NEAR_DUP_THRESHOLD=7",
                           "-s", f"GMW_STATE_DIR={tmp_path / 'state'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    found = samples(tmp_path / "gmwcrawler_politics.prom")
    assert value(found, "gmw_run_verdict", verdict="failed_to_start") == 1
    assert ("gmw_last_success_timestamp_seconds", ()) not in found


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

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Gateway.received.append(("POST", self.path, self.headers.get("Authorization", ""), body))
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
    publish(report, settings, passed=False)
    ((method, path, auth, body),) = Gateway.received
    assert method == "POST"  # pushadd: the last success pushed by an earlier run stays
    assert path == f"/metrics/job/gmwcrawler/instance/{socket.gethostname()}/namespace/prod/spider/politics"
    assert auth == "Basic " + base64.b64encode(b"crawler:s3cret").decode()
    names = {f.name for f in text_string_to_metric_families(body)}
    assert "gmw_run_pages" in names and "gmw_last_success_timestamp_seconds" not in names


# -- alert rules ----------------------------------------------------------------------------------------
def test_the_alert_rules_pass_promtool():
    done = subprocess.run([promtool(), "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


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


def test_the_readme_documents_every_metric():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in (*GAUGES, "gmw_publish_to_store_delay_seconds") if f"`{name}`" not in readme]
    assert missing == []
