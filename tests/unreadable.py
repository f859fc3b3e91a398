"""`python -m tests.unreadable crawl politics …`: scrapy with extraction failing on purpose on the
article pages whose URL contains GMW_TEST_UNREADABLE — a page nobody can read (issue #17)."""

import os
import sys

from scrapy.cmdline import execute

from gmwcrawler.spiders import politics

_extract = politics.extract_article_page


def _unreadable(response):
    if os.environ["GMW_TEST_UNREADABLE"] in response.url:
        raise RecursionError("maximum recursion depth exceeded (on purpose)")
    return _extract(response)


if __name__ == "__main__":
    politics.extract_article_page = _unreadable
    sys.argv[0] = "scrapy"
    execute()
