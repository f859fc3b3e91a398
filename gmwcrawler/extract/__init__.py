"""Extraction: a response in, fields out. No requests, no stats, no settings.

The spider decides where to go; these functions only read what a page says, so
they are tested offline on saved pages (tests/fixtures/).
"""

from .article import ArticlePage, cross_check, extract_article_page, is_soft_404, merge_pages
from .listing import ListingPage, extract_listing

__all__ = [
    "ArticlePage",
    "ListingPage",
    "cross_check",
    "extract_article_page",
    "extract_listing",
    "is_soft_404",
    "merge_pages",
]
