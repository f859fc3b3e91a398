"""Settings of gmwcrawler. Every project setting is listed in README.md ("Settings").

Defaults are polite for a real news site: robots.txt obeyed, AutoThrottle on, two
requests at a time per domain, retries, a few MiB per page at most. The project's own GMW_*
settings, with their defaults and meanings, live in one place: gmwcrawler/defaults.py (issue #16).
"""

from gmwcrawler.defaults import project_values

# Every GMW_* setting: its default, or the environment variable where one may set it (GMW_REDIS_URL…)
_gmw = project_values()
globals().update(_gmw)

BOT_NAME = "gmwcrawler"
SPIDER_MODULES = ["gmwcrawler.spiders"]
NEWSPIDER_MODULE = "gmwcrawler.spiders"
# `scrapy crawl` checks spider arguments before the crawl starts (issue #2)
COMMANDS_MODULE = "gmwcrawler.commands"

# -- Identity: a real bot name with a contact URL ------------------------------------
USER_AGENT = f"gmwcrawler/0.1 (+{_gmw['GMW_CONTACT_URL']})"

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

# -- Pipelines (issues #3, #16): clean -> validate -> de-duplicate -> store ----------------------
EXTENSIONS = {
    "gmwcrawler.seenstore.SeenStoreExtension": 0,
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
    # after RetryMiddleware (550) on the way in, so before it on the way out: a 429/503 pauses its site first
    "gmwcrawler.politeness.SiteSignalsMiddleware": 580,
}
# every request waits for its site's pause and the cluster's rate token when it is really sent
# (gmwcrawler/politeness.py)
DOWNLOAD_HANDLERS = {
    "http": "gmwcrawler.politeness.SendGateHandler",
    "https": "gmwcrawler.politeness.SendGateHandler",
}

# -- Distributed mode (issue #4): set GMW_REDIS_URL and every worker runs `scrapy crawl politics` --
ADDONS = {"gmwcrawler.distributed.addon.DistributedMode": 0}

