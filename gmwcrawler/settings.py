"""Settings of gmwcrawler. Every project setting is listed in README.md ("Settings").

Defaults are polite for a real news site: robots.txt obeyed, AutoThrottle on, two
requests at a time per domain, retries, a few MiB per page at most.
"""

import os

BOT_NAME = "gmwcrawler"
SPIDER_MODULES = ["gmwcrawler.spiders"]
NEWSPIDER_MODULE = "gmwcrawler.spiders"
# `scrapy crawl` checks spider arguments before the crawl starts (issue #2)
COMMANDS_MODULE = "gmwcrawler.commands"

# -- Identity: a real bot name with a contact URL ------------------------------------
GMW_CONTACT_URL = os.environ.get("GMW_CONTACT_URL", "https://github.com/gmwcrawler/gmwcrawler")
USER_AGENT = f"gmwcrawler/0.1 (+{GMW_CONTACT_URL})"

# -- Politeness -------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 4 * 1024 * 1024
DOWNLOAD_WARNSIZE = 1 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_MAX_TIMES = 5

# -- Safety: the telnet console is a Python shell ---------------------------------------
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 also starts, by default, an HTTP server on every crawl that runs Python code sent
# to it (the MCP "remote control"; its token is written to ~/.local/state/scrapy/job_files/) —
# on a worker host that is the same kind of shell. It also costs every run 0.3 s CPU (aiohttp).
REMOTE_CONTROL_ENABLED = False

# -- Development: set HTTPCACHE_ENABLED=True (-s HTTPCACHE_ENABLED=1) to replay pages -----
HTTPCACHE_ENABLED = False
HTTPCACHE_DIR = "httpcache"
HTTPCACHE_EXPIRATION_SECS = 0
HTTPCACHE_IGNORE_HTTP_CODES = [500, 502, 503, 504, 408, 429]

# -- Output -------------------------------------------------------------------------------
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# -- The crawl ---------------------------------------------------------------------------
# The channel's listing nodes (../shared/gmw/README.md): 国内, 要闻, 权威发布, 政策解读,
# 人事任免, 滚动播报. Override per run with -a start_urls=...
GMW_START_URLS = [
    "https://politics.gmw.cn/node_9840.htm",
    "https://politics.gmw.cn/node_9844.htm",
    "https://politics.gmw.cn/node_9831.htm",
    "https://politics.gmw.cn/node_9828.htm",
    "https://politics.gmw.cn/node_9826.htm",
    "https://politics.gmw.cn/node_10495.htm",
]
GMW_ALLOWED_DOMAINS = ["gmw.cn"]
GMW_MAX_LIST_PAGES = 10  # public crawlers stop at page 10; 0 = no limit
GMW_FOLLOW_RELATED = True
GMW_RELATED_DEPTH = 1

# -- Monitoring: final stats as JSON (e.g. -s GMW_STATS_FILE=stats.json) -----------------
GMW_STATS_FILE = os.environ.get("GMW_STATS_FILE") or None
# Prometheus (issue #14, gmwcrawler/metrics.py): a .prom file per spider/namespace for node_exporter's
# textfile collector, and/or a push to a Pushgateway; the crawl itself listens on no port.
GMW_METRICS_DIR = os.environ.get("GMW_METRICS_DIR") or None
GMW_PUSHGATEWAY_URL = os.environ.get("GMW_PUSHGATEWAY_URL") or None  # http(s)://host:9091
GMW_PUSHGATEWAY_USERNAME = os.environ.get("GMW_PUSHGATEWAY_USERNAME") or None  # basic auth, if the gateway asks
GMW_PUSHGATEWAY_PASSWORD = os.environ.get("GMW_PUSHGATEWAY_PASSWORD") or None
GMW_METRICS_INTERVAL = 10  # seconds between refreshes while a run is in progress (0 = at the end only)

# -- Pipelines (issues #3, #16): clean -> validate -> de-duplicate -> store ----------------------
EXTENSIONS = {
    "gmwcrawler.seen.extension.SeenStoreExtension": 0,
    "gmwcrawler.extensions.StatsFile": 900,
    "gmwcrawler.extensions.RunReport": 910,
}
ITEM_PIPELINES = {
    # clean first: a title of "&nbsp;" is empty only once cleaned, and must be judged so (issue #16)
    "gmwcrawler.pipelines.clean.CleanPipeline": 100,
    "gmwcrawler.pipelines.validate.ValidatePipeline": 200,
    "gmwcrawler.pipelines.dedupe.DedupePipeline": 300,
    "gmwcrawler.pipelines.postgres.PostgresPipeline": 800,  # only with GMW_POSTGRES_DSN
}
DUPEFILTER_CLASS = "gmwcrawler.dupefilter.HopAwareDupeFilter"
DOWNLOADER_MIDDLEWARES = {
    "gmwcrawler.middlewares.IncrementalMiddleware": 50,  # before robots.txt, retries and the network
    "gmwcrawler.conditional.ConditionalRequestsMiddleware": 60,  # after it: a refresh it lets through is conditional
    # Scrapy's, fixed for requests that wait for robots.txt (gmwcrawler/robotstxt.py)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "gmwcrawler.robotstxt.RobotsTxtMiddleware": 100,
}
# Local state — the SQLite seen-store, unwritten PostgreSQL rows, run reports without a feed — lives in
# GMW_STATE_DIR; unset: .scrapy/gmw/ in a project folder, else ~/.local/state/gmwcrawler (gmwcrawler/state.py)
GMW_STATE_DIR = os.environ.get("GMW_STATE_DIR") or None
# Where "already stored" lives: sqlite (default; survives restarts) or memory (this run only).
GMW_SEEN_STORE = os.environ.get("GMW_SEEN_STORE", "sqlite")
GMW_SEEN_DB = os.environ.get("GMW_SEEN_DB") or None  # default: seen.sqlite3 in GMW_STATE_DIR
# Revisits (issue #13, gmwcrawler/revisit.py): seconds after an article was first stored at which it is
# fetched again (conditionally: a 304 costs no body), and after which a page that failed for good is asked again
GMW_REFRESH_SCHEDULE = [900, 3600, 3 * 3600, 6 * 3600]
GMW_FAILED_RETRY_SCHEDULE = [3600, 6 * 3600, 24 * 3600]  # 1st, 2nd, 3rd failure; the last step repeats
GMW_LISTING_MARGIN = 1  # listing pages read after the first whose entries are all known (stories inserted lower)
GMW_CONDITIONAL_REQUESTS = True  # If-None-Match / If-Modified-Since from the ETag / Last-Modified kept in the seen-store
GMW_NEAR_DUP_THRESHOLD = 0.7  # MinHash Jaccard of the bodies; 0 turns near-duplicate detection off
GMW_MAX_CONTENT_CHARS = 500_000
GMW_FUTURE_SLACK = 86_400  # seconds a publish_time may lie in the future
GMW_POSTGRES_DSN = os.environ.get("GMW_POSTGRES_DSN") or None
GMW_POSTGRES_BATCH_SIZE = 100
GMW_POSTGRES_CONNECT_TIMEOUT = 5
GMW_POSTGRES_FALLBACK = None  # default: postgres-unwritten.jsonl in GMW_STATE_DIR

# -- Distributed mode (issue #4): set GMW_REDIS_URL and every worker runs `scrapy crawl politics` --
ADDONS = {"gmwcrawler.distributed.addon.DistributedMode": 0}
GMW_REDIS_URL = os.environ.get("GMW_REDIS_URL") or None  # redis://[user:password@]host:port/db, rediss:// for TLS
GMW_REDIS_NAMESPACE = os.environ.get("GMW_REDIS_NAMESPACE", "")  # prefix of every key ("" = scrapy-redis names)
GMW_LEASE_TIMEOUT = 300  # seconds a leased request may stay unacknowledged (live workers renew theirs)
GMW_POLL_INTERVAL = 0.2  # seconds an idle worker waits before asking the shared queue again
# GMW_MAX_LEASES: downloads a worker takes from the shared queue at a time; unset = 2 × CONCURRENT_REQUESTS_PER_DOMAIN
GMW_QUEUE_BATCH = 100  # new requests a worker collects before it sends them (else: with its next lease)
GMW_IDLE_TIMEOUT = 30  # seconds the whole run must be idle (queue empty, no leases) before workers exit
GMW_HEARTBEAT_INTERVAL = 5
GMW_GLOBAL_RATE = 2.0  # requests per second per host across all workers; 0 = no cluster-wide limit
GMW_GLOBAL_BURST = 1
GMW_DUPEFILTER = "set"  # "set" (exact, as scrapy-redis) or "bloom" (a fraction of the memory)
GMW_BLOOM_CAPACITY = 10_000_000
GMW_BLOOM_ERROR_RATE = 0.0001
GMW_REDIS_SOCKET_TIMEOUT = 5.0
GMW_REDIS_OUTAGE_TIMEOUT = 60.0  # seconds a worker waits for Redis to come back before it ends

# -- Run reports and checks (issue #5) ---------------------------------------------------------
GMW_REPORT_FILE = os.environ.get("GMW_REPORT_FILE") or None  # default: next to each local feed
GMW_REPORTS_KEEP = 50  # reports kept in Redis (distributed mode)
GMW_MAX_ERROR_RATE = 0.2  # above this share of failed requests a run is marked failed (exit 1)
GMW_ERROR_RATE_MIN_REQUESTS = 20  # ... judged where the run made at least this many requests
# Markup drift (issue #11): a field whose share of `missing` or of one fallback path rises by
# GMW_DRIFT_THRESHOLD over the earlier runs' makes the verdict "drift" (gmwcrawler/drift.py)
GMW_DRIFT_THRESHOLD = 0.3
GMW_DRIFT_MIN_ARTICLES = 20  # articles judged (recent runs pooled) and needed in the baseline
GMW_DRIFT_HISTORY = 50  # runs whose extraction paths are kept (state directory; Redis in distributed mode)
GMW_FAIL_ON_DRIFT = True  # a drift verdict makes `scrapy crawl` exit 1; False: ERROR line and report only
GMW_SCRAPYD_NODES = os.environ.get("GMW_SCRAPYD_NODES", "")  # comma-separated scrapyd URLs for `scrapy gmwrun`
