"""The project's own signals, sent through `crawler.signals` like Scrapy's."""

# An article page that extraction could not read: sent with `request`, `response`,
# `reason` ("<ExceptionType>: message"). The run report lists it (single mode); in distributed
# mode gmwcrawler.distributed keeps it on the dead-letter list `<ns>:<spider>:requests:failed`.
page_unreadable = object()
