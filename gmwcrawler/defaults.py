"""Every GMW_* setting once: its default and what it means (as scrapy-redis's `defaults.py`).

`settings.py` reads the ones marked `env` from the environment, the settings table of docs/reference.md is generated from here
(`python -m gmwcrawler.defaults`; a test compares them), and code reads a setting with `get()`, which
falls back on the default below when a crawler's settings lack it (a test's `Settings()`, a spider
run with another project's settings). This module also owns the one decision that every part of the
crawler needs: single-machine or distributed mode (`redis_url()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings

EMPTY = '""'


@dataclass(frozen=True)
class Setting:
    default: Any
    meaning: str
    kind: type = str  # how a value given as text (`-s NAME=VALUE`, scrapyd) is read
    env: bool = False  # the environment variable of the same name sets it too (addresses, secrets, paths)
    shown: str | None = None  # the default as the README shows it, where the value itself says little
    unit: str = ""
    secret: bool = False  # may hold a credential: never passed on a command line (gmwrun refuses it as a job setting)
    low: float | None = None  # a number below this (or above `high`) stops the run before it starts (preflight)
    high: float | None = None

    def show(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "unset"
        value = ",".join(str(v) for v in self.default) if isinstance(self.default, list) else str(self.default)
        return f"`{value or EMPTY}`" + (f" {self.unit}" if self.unit else "")


NODES = [  # the channel's listing nodes (docs/evidence.md): 国内, 要闻, 权威发布, 政策解读, 人事任免, 滚动播报
    "https://politics.gmw.cn/node_9840.htm",
    "https://politics.gmw.cn/node_9844.htm",
    "https://politics.gmw.cn/node_9831.htm",
    "https://politics.gmw.cn/node_9828.htm",
    "https://politics.gmw.cn/node_9826.htm",
    "https://politics.gmw.cn/node_10495.htm",
]

SETTINGS: dict[str, Setting] = {
    # -- the crawl: defaults of the spider arguments (docs/reference.md, "Spider arguments") --------------------------
    "GMW_START_URLS": Setting(NODES, "default of the spider argument `start_urls`", list,
                              shown="the six 时政 nodes"),
    "GMW_ALLOWED_DOMAINS": Setting(["gmw.cn"], "default of the spider argument `allowed_domains`", list),
    # public crawlers stop at page 10
    "GMW_MAX_LIST_PAGES": Setting(10, "default of the spider argument `max_list_pages`; `0` = no limit", int),
    "GMW_FOLLOW_RELATED": Setting(True, "default of the spider argument `follow_related`", bool),
    "GMW_RELATED_DEPTH": Setting(1, "default of the spider argument `related_depth`", int),
    "GMW_CONTACT_URL": Setting("https://github.com/gmwcrawler/gmwcrawler",
                               "put in the User-Agent: `gmwcrawler/0.1 (+URL)`", env=True, shown="project URL"),
    # -- local state and the seen-store ------------------------------------------------------------------
    "GMW_STATE_DIR": Setting(None, "where local state lives", env=True, shown='see "The state directory"'),
    "GMW_SEEN_STORE": Setting("sqlite", "where \"already stored\" lives: `sqlite` (survives restarts) or `memory`"
                              " (this run only)", env=True),
    "GMW_SEEN_DB": Setting(None, "the SQLite seen-store's file", env=True,
                           shown="`seen.sqlite3` in the state directory"),
    # -- revisits ------------------------------------------------------------------------------
    "GMW_REFRESH_SCHEDULE": Setting(
        [900, 3600, 3 * 3600, 6 * 3600],
        "seconds after an article was first stored at which it is fetched again (articles published at most the last"
        " step before they were stored; a late run does the missed steps as one fetch). Replaces `GMW_REFRESH_WINDOW`,"
        " which now stops the crawl with a one-line error", list),
    "GMW_FAILED_RETRY_SCHEDULE": Setting(
        [3600, 6 * 3600, 24 * 3600],
        "seconds after the 1st, 2nd, 3rd… failure for good before a page is asked again (the last step repeats)", list),
    "GMW_LISTING_MARGIN": Setting(1, "listing pages read after the first whose articles are all known", int, low=0),
    "GMW_CONDITIONAL_REQUESTS": Setting(True, "send `If-None-Match` / `If-Modified-Since` from the validators kept in"
                                        " the seen-store", bool),
    # -- the pipelines -------------------------------------------------------------------------------------
    "GMW_NEAR_DUP_THRESHOLD": Setting(0.7, "MinHash (Jaccard) similarity of two bodies above which the later one is a"
                                      " near-duplicate; `0` = off", float, low=0, high=1),
    "GMW_MAX_CONTENT_CHARS": Setting(500_000, "longer bodies are dropped (`content_too_long`)", int, low=1),
    "GMW_FUTURE_SLACK": Setting(86_400, "seconds a `publish_time` may lie in the future before the item is dropped",
                                int),
    "GMW_POSTGRES_DSN": Setting(None, "switches the PostgreSQL sink on", env=True, secret=True),
    "GMW_POSTGRES_BATCH_SIZE": Setting(100, "rows per write (a full batch is written at once)", int, low=1),
    "GMW_POSTGRES_FLUSH_INTERVAL": Setting(
        0.2, "longest an item waits for its batch to be written; an item counts as stored (feeds, seen-store, the"
        " Redis lease) only once its row is committed", float, unit="s", low=0.01, high=60),
    "GMW_POSTGRES_CONNECT_TIMEOUT": Setting(5, "how long to wait for PostgreSQL to accept a connection", int, unit="s"),
    "GMW_POSTGRES_STATEMENT_TIMEOUT": Setting(
        60, "longest a write may take (waiting for a lock included) before it is tried again, then written to the"
        " fallback file; a dead server is noticed by TCP keepalives within about 30 s", float, unit="s", low=1),
    "GMW_POSTGRES_FALLBACK": Setting(None, "rows that could not be written after a reconnect are appended here,"
                                     " never dropped", shown="`postgres-unwritten.jsonl` in the state directory"),
    # -- distributed mode -------------------------------------------------------------------------
    "GMW_REDIS_URL": Setting(None, "switches distributed mode on (`redis://`, `rediss://`, user and password)",
                             env=True, secret=True),
    "GMW_REDIS_NAMESPACE": Setting("", "prefix of every Redis key, for several crawls on one Redis", env=True),
    "GMW_REDIS_ITEMS_KEEP": Setting(10_000, "how many of the newest kept items the Redis list `<spider>:items` holds"
                                    " (the sinks hold the data); `0` = no list", int, low=0),
    "GMW_MAX_ATTEMPTS": Setting(3, "a request whose lease expired this many times (it stalls or kills every worker"
                                " that takes it) goes to the dead-letter list (`scrapy gmw failed`); `0` = no limit",
                                int, low=0),
    "GMW_LEASE_TIMEOUT": Setting(300, "an unacknowledged, unrenewed lease goes back to the queue after this; more than"
                                 " `GMW_REDIS_OUTAGE_TIMEOUT` + `GMW_HEARTBEAT_INTERVAL`", float, unit="s", low=1),
    "GMW_POLL_INTERVAL": Setting(0.2, "how soon a worker with nothing to do asks the shared queue again", float,
                                 unit="s", low=0.01, high=60),
    "GMW_MAX_LEASES": Setting(None, "downloads a worker takes from the shared queue at a time: more would wait in its"
                              " own download queue while another worker idles; `0` = as many as `CONCURRENT_REQUESTS`",
                              int, shown="2 × `CONCURRENT_REQUESTS_PER_DOMAIN`"),
    "GMW_QUEUE_BATCH": Setting(100, "new requests a worker collects before sending them; otherwise they go with its next"
                               " lease (one Redis call per page)", int, low=1),
    "GMW_IDLE_TIMEOUT": Setting(30, "how long the whole run must be idle before the workers exit", float, unit="s", low=0),
    "GMW_HEARTBEAT_INTERVAL": Setting(5, "worker heartbeats, lease renewal, recovery of expired leases", float,
                                      unit="s", low=0.1, high=300),
    "GMW_ROBOTS_CACHE": Setting(86_400, "how long a host's robots.txt stands before it is read again (RFC 9309: at most"
                                " a day); shared through Redis in distributed mode", float, unit="s", low=0, high=86_400),
    "GMW_ROBOTS_RETRY": Setting(300, "a robots.txt that answered 429, 5xx or nothing disallows everything (RFC 9309)"
                                " until it is read again this long after", float, unit="s", low=1, high=86_400),
    "GMW_GLOBAL_RATE": Setting(2.0, "requests per second per site (a `GMW_SITE_GROUPS` group, else a host) across all"
                               " workers, taken when a request is sent; `0` = off", float, low=0),
    "GMW_GLOBAL_BURST": Setting(1.0, "requests a site may get at once within `GMW_GLOBAL_RATE`", float, low=1),
    "GMW_SITE_GROUPS": Setting(["gmw.cn"], "domains whose hosts share one budget (one operator's servers): one download"
                               " slot, one rate bucket, one pause", list),
    "GMW_RETRY_AFTER_MAX": Setting(600, "the longest pause a 429/503's `Retry-After` may impose on a site (every"
                                   " worker waits)", float, unit="s", low=1, high=86_400),
    "GMW_BACKOFF_BASE": Setting(5, "a 503 without `Retry-After` pauses its site this long, doubled for each further one"
                                " in a row (up to `GMW_RETRY_AFTER_MAX`)", float, unit="s", low=0.1, high=3600),
    "GMW_DUPEFILTER": Setting("set", "`set` (exact, keeps the shortest-path rule) or `bloom` (a fraction of the memory;"
                              " gives up the shortest-path rule: see \"Fingerprints at scale\")"),
    "GMW_BLOOM_CAPACITY": Setting(10_000_000, "URLs the Bloom filter is sized for", int),
    "GMW_BLOOM_ERROR_RATE": Setting(0.0001, "the Bloom filter's false-positive rate at that capacity", float),
    "GMW_REDIS_SOCKET_TIMEOUT": Setting(5.0, "per Redis call", float, unit="s", low=0.1),
    "GMW_REDIS_OUTAGE_TIMEOUT": Setting(60.0, "how long a worker waits for Redis before it ends (downloads in"
                                        " progress carry on meanwhile)", float, unit="s", low=0),
    # -- run reports, checks and monitoring ---------------------------------------------------
    "GMW_STATS_FILE": Setting(None, "write the final crawl stats as JSON to this path", env=True),
    "GMW_REPORT_FILE": Setting(None, "where the run report goes", env=True,
                               shown="next to each local feed; without one, `reports/politics-<job or time>.json` in"
                                     " the state directory (the newest `GMW_REPORTS_KEEP` kept)"),
    "GMW_REPORTS_KEEP": Setting(50, "run reports kept in Redis and in the state directory's `reports/`", int),
    "GMW_MAX_ERROR_RATE": Setting(0.2, "above this share of requests failing for good, the run is marked failed"
                                  " (exit 1)", float),
    "GMW_ERROR_RATE_MIN_REQUESTS": Setting(
        20, "the error rate is judged only for runs of at least this many requests (a run with nothing new makes seven;"
            " one page broken for good would be a third of them). A dead site is still verdict `no_articles`", int),
    "GMW_DRIFT_THRESHOLD": Setting(0.3, "rise of a field's `missing` or fallback share over the earlier runs' that is"
                                   " markup drift", float),
    "GMW_EXTRACT_CHECK_EVERY": Setting(20, "one article page in this many is also read by the generic routes, and"
                                       " a field they read otherwise than the template is counted"
                                       " (`gmw/extract_check/<field>/disagree`, a WARNING line); 0: never", int, low=0),
    "GMW_DRIFT_MIN_ARTICLES": Setting(20, "articles judged for drift (newest runs pooled) and needed in the baseline",
                                      int),
    "GMW_DRIFT_HISTORY": Setting(50, "runs whose extraction paths are kept for the comparison", int),
    "GMW_FAIL_ON_DRIFT": Setting(True, "a `drift` verdict makes `scrapy crawl` exit 1 (off: ERROR line and report"
                                 " only)", bool),
    "GMW_METRICS_DIR": Setting(None, "write the run's Prometheus metrics to `gmwcrawler_<spider>[_<namespace>][_<worker>].prom`"
                               " here, for node_exporter's textfile collector (below, \"Metrics for Prometheus\")",
                               env=True),
    "GMW_METRICS_WORKER": Setting("", "a name for this process where several run at once on one host with one"
                                  " `GMW_METRICS_DIR` (the `gmwcrawler-watch@` units set `%i`): in the file name and"
                                  " as the label `worker`, so that each keeps its own series", env=True, shown="unset"),
    "GMW_PUSHGATEWAY_URL": Setting(None, "push the metrics to this Pushgateway (`http(s)://host:9091`)", env=True,
                                   secret=True),
    "GMW_PUSHGATEWAY_USERNAME": Setting(None, "Basic auth for the Pushgateway", env=True),
    "GMW_PUSHGATEWAY_PASSWORD": Setting(None, "Basic auth for the Pushgateway", env=True, secret=True),
    "GMW_METRICS_INTERVAL": Setting(10, "how often a run in progress (watch mode, a Redis worker) refreshes its metrics;"
                                    " `0` = at the end only", float, unit="s", low=0),
    "GMW_SCRAPYD_NODES": Setting("", "comma-separated scrapyd URLs for `scrapy gmwrun`", env=True, shown="unset"),
}

# Settings that no longer exist, and what replaced them: preflight stops a run that still sets one.
REMOVED = {
    "GMW_REFRESH_WINDOW": "GMW_REFRESH_WINDOW was replaced by GMW_REFRESH_SCHEDULE (seconds after the first store at"
                          " which an article is fetched again, e.g. 900,3600,10800,21600)",
}

_GETTERS = {bool: "getbool", int: "getint", float: "getfloat", list: "getlist", str: "get"}


SECRETS = frozenset(name for name, spec in SETTINGS.items() if spec.secret)


def get(settings: BaseSettings, name: str) -> Any:
    """The value of a GMW_* setting, read as its kind; the default of SETTINGS where it is unset."""
    spec = SETTINGS[name]
    if settings.get(name) is None:
        return spec.default
    return getattr(settings, _GETTERS[spec.kind])(name)


def raw(settings: BaseSettings, name: str) -> Any:
    """A GMW_* setting as given (text from `-s`, a list from settings.py), for a check that names it."""
    value = settings.get(name)
    return SETTINGS[name].default if value is None else value


def check_numbers(settings: BaseSettings) -> None:
    """ValueError, naming the setting, for a number outside its bounds (or not a number)."""
    for name, spec in SETTINGS.items():
        if spec.low is None and spec.high is None:
            continue
        given = raw(settings, name)
        try:
            value = float(given)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={given!r}: expected a number") from None
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            bounds = f"from {spec.low}" + (f" to {spec.high}" if spec.high is not None else " up")
            raise ValueError(f"{name}={given!r}: expected a number {bounds}")


def check_relations(settings: BaseSettings) -> None:
    """ValueError, naming both settings, where two settings of the distributed mode contradict each other:
    a worker cut off from Redis goes on working on its leases for up to GMW_REDIS_OUTAGE_TIMEOUT and renews
    them every GMW_HEARTBEAT_INTERVAL, so a lease must outlive both, or another worker is handed the same
    request while the first still works on it."""
    lease, outage = get(settings, "GMW_LEASE_TIMEOUT"), get(settings, "GMW_REDIS_OUTAGE_TIMEOUT")
    heartbeat = get(settings, "GMW_HEARTBEAT_INTERVAL")
    if lease <= outage + heartbeat:
        raise ValueError(f"GMW_LEASE_TIMEOUT={lease:g} must be more than GMW_REDIS_OUTAGE_TIMEOUT={outage:g} +"
                         f" GMW_HEARTBEAT_INTERVAL={heartbeat:g}: a worker cut off from Redis would work on leases"
                         " already handed to another")
    socket_timeout = get(settings, "GMW_REDIS_SOCKET_TIMEOUT")
    if socket_timeout >= lease:
        raise ValueError(f"GMW_REDIS_SOCKET_TIMEOUT={socket_timeout:g} must be less than GMW_LEASE_TIMEOUT={lease:g}")


def removed(settings: BaseSettings) -> str | None:
    """What replaced the first removed setting still set, or None."""
    return next((why for name, why in REMOVED.items() if settings.get(name) is not None), None)


def max_leases(settings: BaseSettings) -> int:
    """Downloads in flight at most; unset: twice what one host may have (this spider's pages are nearly all
    on politics.gmw.cn); 0 = as many as the engine asks for (CONCURRENT_REQUESTS)."""
    given = get(settings, "GMW_MAX_LEASES")
    return max(0, 2 * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") if given is None else given)


def redis_url(settings: BaseSettings) -> str | None:
    """The one test of the mode: distributed (this URL) or single-machine (None)."""
    return get(settings, "GMW_REDIS_URL") or None


def from_environment(name: str, environ: Mapping[str, str] = os.environ) -> Any:
    """What `settings.py` sets a GMW_* setting marked `env` to: the environment variable of its name, or its default."""
    spec = SETTINGS[name]
    if not spec.env:
        raise ValueError(f"{name} is not read from the environment: set it with -s or in settings.py")
    return environ.get(name) or spec.default


def markdown_table() -> str:
    """The GMW_* rows of the settings table of docs/reference.md."""
    rows = []
    for name, spec in SETTINGS.items():
        env = " (also an environment variable)" if spec.env else ""
        rows.append(f"| `{name}`{env} | {spec.show()} | {spec.meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
