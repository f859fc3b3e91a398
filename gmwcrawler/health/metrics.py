"""A run's metrics for Prometheus, made with prometheus-client from the run report.

Operators watch crawls in Prometheus and Grafana: every run writes its metrics for node_exporter's
textfile collector (GMW_METRICS_DIR: `gmwcrawler_<spider>[_<namespace>].prom`, written atomically)
and/or pushes them to a Pushgateway (GMW_PUSHGATEWAY_URL; GMW_PUSHGATEWAY_USERNAME / _PASSWORD from
the environment). Long-running processes (watch mode, Redis workers) refresh them every
GMW_METRICS_INTERVAL seconds. Nothing listens on a port.

The values are the run report's (gmwcrawler.health.report.RunReport), so the two never disagree:
the report is the one owner of what a run counted, this module only writes it out.
"""

from __future__ import annotations

import logging
import math
import re
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, push_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler
from prometheus_client.parser import text_string_to_metric_families
from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.redact import mask_url

logger = logging.getLogger(__name__)

VERDICTS = ("running", "ok", "drift", "no_articles", "unreachable", "error_rate", "backlog", "not_finished",
            "failed_to_start")
# publication to store: a 15-minute timer's articles land within minutes to an hour (bench/README.md)
DELAY_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 21600, 86400, math.inf)
LAST_SUCCESS = "gmw_last_success_timestamp_seconds"

# name -> (help, extra label names); every metric also has `spider` and `namespace` (and `worker` where
# GMW_METRICS_WORKER names the process)
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "gmw_run_start_timestamp_seconds": ("When the run started (Unix time).", ()),
    "gmw_run_end_timestamp_seconds": ("When the run ended (Unix time); absent while it runs.", ()),
    "gmw_run_running": ("1 while the run is in progress, 0 once it ended.", ()),
    "gmw_run_verdict": ("The run's verdict: 1 for the current one, 0 for the others.", ("verdict",)),
    LAST_SUCCESS: ("When the last run that passed its checks ended (Unix time).", ()),
    "gmw_run_pages": ("Responses received in the run.", ()),
    "gmw_run_requests": ("Requests sent in the run (robots.txt included).", ()),
    "gmw_run_not_modified_responses": ("304 Not Modified answers to conditional requests in the run.", ()),
    "gmw_run_items": ("Articles decided by the seen-store in the run, by outcome.", ("outcome",)),
    "gmw_run_items_stored": ("Items that left the pipelines in the run.", ()),
    "gmw_run_dropped_items": ("Items dropped in the run, by reason.", ("reason",)),
    "gmw_run_errors": ("Requests failed for good and ERROR log lines in the run, by kind.", ("kind",)),
    "gmw_run_error_ratio": ("Share of the run's requests that failed for good.", ()),
    "gmw_run_requests_per_new_article": ("Requests per new article stored (requests when none is new).", ()),
    "gmw_extraction_articles": ("Articles whose field was read by each extraction path in the run.", ("field", "path")),
    "gmw_extraction_drift_ratio": ("Share of articles on a path that drifted from earlier runs (markup changed?).",
                                   ("field", "path")),
    "gmw_extraction_disagreements": (("Checked article pages (one in GMW_EXTRACT_CHECK_EVERY) whose field the"
                                      " generic route read otherwise than the template (the template's value is kept)."),
                                     ("field",)),
    "gmw_site_pauses": ("Pauses a site asked for in the run (429/503 with Retry-After, or a 503 backoff).", ()),
    "gmw_backlog_requests": (("Requests promised (listed, linked, next listing pages) without an outcome yet: at"
                              " the run's start (left by an earlier run) and at its end."), ("when",)),
    "gmw_ratelimit_delayed_requests": ("Requests this worker held back for the cluster-wide rate limit.", ()),
    "gmw_redis_queue_requests": ("Requests in the shared Redis queue (distributed mode).", ()),
    "gmw_redis_leases": ("Requests leased by workers, in flight (distributed mode).", ()),
    "gmw_redis_workers_alive": ("Workers of the run with a recent heartbeat (distributed mode).", ()),
    "gmw_watch_poll_interval_seconds": ("Watch mode: seconds between two polls of the listings.", ()),
    "gmw_watch_polling": ("Watch mode: 1 if this process polls the listings (in a cluster, one worker does).", ()),
    "gmw_watch_last_poll_timestamp_seconds": (("Watch mode: when the listings were last polled, by any worker of"
                                               " the run (Unix time)."), ()),
}
HISTOGRAMS: dict[str, str] = {
    "gmw_publish_to_store_delay_seconds": "Seconds from an article's publication to its storing, new articles of the run.",
}


def metric_names() -> set[str]:
    """Every series name a run may write (histograms with their suffixes): what dashboards may query."""
    return set(GAUGES) | {f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count", "_created")}


def enabled(settings: BaseSettings) -> bool:
    return bool(defaults.get(settings, "GMW_METRICS_DIR") or defaults.get(settings, "GMW_PUSHGATEWAY_URL"))


def textfile_path(settings: BaseSettings, spider: str) -> Path:
    name = "_".join(_safe(part) for part in (spider, defaults.get(settings, "GMW_REDIS_NAMESPACE") or "",
                                             defaults.get(settings, "GMW_METRICS_WORKER") or "") if part)
    return Path(defaults.get(settings, "GMW_METRICS_DIR")) / f"gmwcrawler_{name}.prom"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def registry_for(report: Mapping[str, Any], delays: Iterable[float], labels: dict[str, str],
                 last_success: float | None) -> CollectorRegistry:
    """The report as metrics, in a registry of its own (no process-wide state)."""
    registry = CollectorRegistry(auto_describe=True)
    common = tuple(labels)
    gauges: dict[str, Gauge] = {}

    def put(name: str, value: float | None, **extra: str) -> None:
        if value is None:
            return
        if name not in gauges:
            help_, extra_labels = GAUGES[name]
            gauges[name] = Gauge(name, help_, (*common, *extra_labels), registry=registry)
        gauges[name].labels(**labels, **extra).set(value)

    running = report["verdict"] == "running"
    put("gmw_run_start_timestamp_seconds", _unix(report.get("start")))
    put("gmw_run_end_timestamp_seconds", None if running else _unix(report.get("end")))
    put("gmw_run_running", 1 if running else 0)
    for verdict in VERDICTS:
        put("gmw_run_verdict", 1 if verdict == report["verdict"] else 0, verdict=verdict)
    put(LAST_SUCCESS, last_success)
    put("gmw_run_pages", report.get("pages", 0))
    put("gmw_run_requests", report.get("requests", 0))
    put("gmw_run_not_modified_responses", report.get("revisits", {}).get("not_modified", 0))
    for outcome, n in report.get("decisions", {}).items():
        put("gmw_run_items", n, outcome=outcome)
    put("gmw_run_items_stored", report.get("items_stored", 0))
    for reason, n in report.get("dropped", {}).items():
        put("gmw_run_dropped_items", n, reason=reason)
    for kind, n in report.get("errors", {}).items():
        put("gmw_run_errors", n, kind=kind)
    put("gmw_run_error_ratio", report.get("error_rate", 0))
    new = report.get("decisions", {}).get("new", 0)
    put("gmw_run_requests_per_new_article", report.get("requests", 0) / max(1, new))
    for field, paths in report.get("extraction", {}).items():
        for path, n in paths.items():
            put("gmw_extraction_articles", n, field=field, path=path)
    for found in report.get("drift", []):
        put("gmw_extraction_drift_ratio", found["share"], field=found["field"], path=found["path"])
    for field, n in (report.get("extraction_check") or {}).get("disagree", {}).items():
        put("gmw_extraction_disagreements", n, field=field)
    put("gmw_site_pauses", (report.get("politeness") or {}).get("site_pauses"))
    backlog = report.get("backlog") or {}
    put("gmw_backlog_requests", backlog.get("at_start"), when="start")
    put("gmw_backlog_requests", None if running else backlog.get("at_end"), when="end")
    put("gmw_ratelimit_delayed_requests", report.get("ratelimit_delayed"))
    redis = report.get("redis") or {}
    put("gmw_redis_queue_requests", redis.get("queued"))
    put("gmw_redis_leases", redis.get("leased"))
    put("gmw_redis_workers_alive", redis.get("workers_alive"))
    watch = report.get("watch") or {}
    put("gmw_watch_poll_interval_seconds", watch.get("interval_s"))
    put("gmw_watch_polling", None if not watch else int(bool(watch.get("polling"))))
    put("gmw_watch_last_poll_timestamp_seconds", watch.get("last_poll_at"))
    for name, help_ in HISTOGRAMS.items():
        histogram = Histogram(name, help_, common, buckets=DELAY_BUCKETS, registry=registry).labels(**labels)
        for delay in delays:
            histogram.observe(delay)
    return registry


def publish(report: Mapping[str, Any], settings: BaseSettings, delays: Iterable[float] = (), passed: bool = False) -> None:
    """Write and/or push the report's metrics. `passed`: a final report whose checks passed, so its
    end is the last success; otherwise the last success is what it was (read back from the file; at a
    Pushgateway, a group of its own). Failures are logged, never raised: metrics must not fail a crawl."""
    if not enabled(settings):
        return
    spider = report.get("spider") or "politics"
    labels = {"spider": spider, "namespace": defaults.get(settings, "GMW_REDIS_NAMESPACE") or ""}
    if worker := defaults.get(settings, "GMW_METRICS_WORKER"):  # several processes of one host: a series each
        labels["worker"] = worker
    delays = list(delays)
    last_success = _unix(report.get("end")) if passed else None
    directory = defaults.get(settings, "GMW_METRICS_DIR")
    if directory:
        path = textfile_path(settings, spider)
        kept = last_success if last_success is not None else _read_last_success(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(path), registry_for(report, delays, labels, kept))  # a temporary file, then rename
        except OSError as exc:
            logger.error("Metrics not written to %s: %s", path, exc.strerror or exc)
    url = defaults.get(settings, "GMW_PUSHGATEWAY_URL")
    if url:
        _push(url, settings, report, delays, labels, last_success)


def _push(url: str, settings: BaseSettings, report: Mapping[str, Any], delays: list[float], labels: dict[str, str],
          last_success: float | None) -> None:
    """PUT replaces a whole group at the Pushgateway: the run's group loses what an earlier run left (a
    drift, a drop reason), which POST would keep (checked against Debian's prometheus-pushgateway).
    The last success lives in a group of its own, put only by a run that passed."""
    username = defaults.get(settings, "GMW_PUSHGATEWAY_USERNAME")
    password = defaults.get(settings, "GMW_PUSHGATEWAY_PASSWORD")

    def handler(url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Any:
        if username:
            return basic_auth_handler(url, method, timeout, headers, data, username, password or "")
        return default_handler(url, method, timeout, headers, data)

    group = {**labels, "instance": socket.gethostname()}
    pushes = [(group, registry_for(report, delays, labels, None))]
    if last_success is not None:
        success = CollectorRegistry()
        Gauge(LAST_SUCCESS, GAUGES[LAST_SUCCESS][0], tuple(labels), registry=success).labels(**labels).set(last_success)
        pushes.append(({**group, "group": "last_success"}, success))
    for grouping_key, registry in pushes:
        try:
            push_to_gateway(url, job="gmwcrawler", registry=registry, grouping_key=grouping_key, timeout=10,
                            handler=handler)
        except OSError as exc:
            logger.error("Metrics not pushed to %s: %s", mask_url(url), exc)
            return


def _read_last_success(path: Path) -> float | None:
    try:
        text = path.read_text("utf-8")
    except OSError:
        return None
    try:
        for family in text_string_to_metric_families(text):
            if family.name == LAST_SUCCESS and family.samples:
                return family.samples[0].value
    except ValueError:
        logger.warning("Metrics file %s is not in the text format; the last success time starts afresh", path)
    return None


def _unix(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None
