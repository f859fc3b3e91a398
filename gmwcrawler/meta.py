"""Request meta keys that more than one module reads: the spider sets them, middlewares, the
dupe filter and the Redis queue read them. Here, so that none of those imports another for a
string (the queue once imported the downloader middlewares for one)."""

ARTICLE_META = "gmw_article"  # an article page request (not a listing): the incremental middleware's business
HOPS_META = "gmw_hops"  # hops from a listing page: 0 listed, 1 related to a listed one, … (gmwcrawler.incremental.dupefilter)
CONDITIONAL_META = "gmw_conditional"  # set by the spider on listing requests of a run that stops at known pages
REFRESH_META = "gmw_refresh"  # the incremental middleware let a stored article through for a refresh
REQUEUED_META = "gmw_requeued"  # `scrapy gmw failed --requeue` put it back: asked again whatever the backoff
BACKLOG_META = "gmw_backlog"  # the request's key in the seen-store's backlog (seen.base.BacklogEntry)
# watch mode: a listed article that looked due for a refresh (or a failed page due for its next try), sent past
# the dupe filter; fetched only if the incremental middleware's own decision agrees (two nodes listing it: one fetch)
REFRESH_CANDIDATE_META = "gmw_refresh_candidate"
