"""Settings of gmwcrawler: Scrapy's, written out, then the project's own.

Defaults are polite for a real news site: robots.txt obeyed, AutoThrottle on, two requests at a time per
domain, retries, a few MiB per page at most. The project's own settings (GMW_*) are at the end: each one's
default, bounds and meaning are in gmwcrawler/defaults.py, and docs/reference.md lists them all.
"""

from gmwcrawler.defaults import from_environment

BOT_NAME = "gmwcrawler"
SPIDER_MODULES = ["gmwcrawler.spiders"]
NEWSPIDER_MODULE = "gmwcrawler.spiders"
# `scrapy crawl` checks spider arguments before the crawl starts
COMMANDS_MODULE = "gmwcrawler.commands"

# -- Identity: a real bot name with a contact URL ------------------------------------
GMW_CONTACT_URL = from_environment("GMW_CONTACT_URL")  # a project setting (below), put in the User-Agent here
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
# local feed files get each item at once, not when an 8 KiB buffer fills: a killed run loses none of the
# items it counted as delivered (gmwcrawler/feeds.py)
FEED_STORAGES = {"": "gmwcrawler.feeds.WriteThroughFileFeedStorage", "file": "gmwcrawler.feeds.WriteThroughFileFeedStorage"}
LOG_LEVEL = "INFO"

# -- Components: the seen-store and the run report (extensions); clean -> validate -> de-duplicate -> store --
EXTENSIONS = {
    "gmwcrawler.incremental.crawl_store.SeenStoreExtension": 0,
    "gmwcrawler.health.report.StatsFile": 900,
    "gmwcrawler.health.report.RunReport": 910,
}
ITEM_PIPELINES = {
    # clean first: a title of "&nbsp;" is empty only once cleaned, and must be judged so
    "gmwcrawler.pipelines.clean.CleanPipeline": 100,
    "gmwcrawler.pipelines.validate.ValidatePipeline": 200,
    "gmwcrawler.pipelines.dedupe.DedupePipeline": 300,
    "gmwcrawler.postgres.sink.PostgresPipeline": 800,  # only with GMW_POSTGRES_DSN
}
DUPEFILTER_CLASS = "gmwcrawler.incremental.dupefilter.HopAwareDupeFilter"
DOWNLOADER_MIDDLEWARES = {
    "gmwcrawler.incremental.middlewares.IncrementalMiddleware": 50,  # before robots.txt, retries and the network
    "gmwcrawler.incremental.conditional.ConditionalRequestsMiddleware": 60,  # after it: a refresh it lets through is conditional
    # Scrapy's, fixed for requests that wait for robots.txt (gmwcrawler/politeness/robotstxt.py)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "gmwcrawler.politeness.robotstxt.RobotsTxtMiddleware": 100,
    # after RetryMiddleware (550) on the way in, so before it on the way out: a 429/503 pauses its site first
    "gmwcrawler.politeness.gate.SiteSignalsMiddleware": 580,
}
# every request waits for its site's pause and the cluster's rate token when it is really sent
# (gmwcrawler/politeness/gate.py)
DOWNLOAD_HANDLERS = {
    "http": "gmwcrawler.politeness.gate.SendGateHandler",
    "https": "gmwcrawler.politeness.gate.SendGateHandler",
}

# -- Distributed mode: set GMW_REDIS_URL and every worker runs `scrapy crawl politics` --
ADDONS = {"gmwcrawler.distributed.addon.DistributedMode": 0}

# -- The project's own settings (GMW_*) ---------------------------------------------------------
# Code reads each with gmwcrawler.defaults.get(), which takes its default where it is unset, so a setting
# left out here has the default gmwcrawler/defaults.py gives it. Set one here, with `-s NAME=VALUE`, or as a
# scrapyd job setting. Those that name an address, a path or a secret may also come from the environment
# (a systemd EnvironmentFile, a container): the variable of the same name, else the default.
# GMW_CONTACT_URL: above, with the User-Agent
GMW_STATE_DIR = from_environment("GMW_STATE_DIR")
GMW_SEEN_STORE = from_environment("GMW_SEEN_STORE")
GMW_SEEN_DB = from_environment("GMW_SEEN_DB")
GMW_POSTGRES_DSN = from_environment("GMW_POSTGRES_DSN")
GMW_REDIS_URL = from_environment("GMW_REDIS_URL")
GMW_REDIS_NAMESPACE = from_environment("GMW_REDIS_NAMESPACE")
GMW_STATS_FILE = from_environment("GMW_STATS_FILE")
GMW_REPORT_FILE = from_environment("GMW_REPORT_FILE")
GMW_METRICS_DIR = from_environment("GMW_METRICS_DIR")
GMW_METRICS_WORKER = from_environment("GMW_METRICS_WORKER")
GMW_PUSHGATEWAY_URL = from_environment("GMW_PUSHGATEWAY_URL")
GMW_PUSHGATEWAY_USERNAME = from_environment("GMW_PUSHGATEWAY_USERNAME")
GMW_PUSHGATEWAY_PASSWORD = from_environment("GMW_PUSHGATEWAY_PASSWORD")
GMW_SCRAPYD_NODES = from_environment("GMW_SCRAPYD_NODES")
