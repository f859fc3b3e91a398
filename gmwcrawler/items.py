"""The article item. Field names are the project's public interface (issue #2)."""

from __future__ import annotations

import scrapy


class ArticleItem(scrapy.Item):
    url = scrapy.Field()  # page-1 URL
    article_id = scrapy.Field()  # str
    title = scrapy.Field()
    publish_time = scrapy.Field()  # ISO 8601, +08:00, seconds included
    source = scrapy.Field()
    editor = scrapy.Field()  # name only
    author = scrapy.Field()  # the writer's credit ("" when the page names none); never the editor
    channel = scrapy.Field()  # breadcrumb, e.g. ["时政频道", "国内"]
    keywords = scrapy.Field()  # list[str]
    content = scrapy.Field()  # plain text, one paragraph per line
    content_html = scrapy.Field()  # sanitised article body
    images = scrapy.Field()  # list of {"url", "caption"}
    videos = scrapy.Field()  # list of absolute media URLs
    related = scrapy.Field()  # list of {"url", "title"}
    page_count = scrapy.Field()
    crawled_at = scrapy.Field()  # UTC ISO 8601
    reporters = scrapy.Field()  # list: reporter credits parsed from content, e.g. （总台央视记者 黄惠馨 李峻）
    alt_urls = scrapy.Field()  # other URLs of the same article, where known before the item left
    version = scrapy.Field()  # 1 for a new article, +1 for every stored correction (issue #13)
    changed_fields = scrapy.Field()  # of an update: which of identity.REVISION_FIELDS changed
    first_listed_at = scrapy.Field()  # UTC ISO 8601: when this run first saw the article in a listing
    missing_pages = scrapy.Field()  # only set when a page of a multi-page article could not be fetched
    # which route read each field: a template ("a", "b", "old2012", …), a fallback ("enp", "meta", "line"),
    # the landmarks the templates share ("landmark"), or "generic" (no class or id read: README, "When gmw.cn
    # redesigns its pages")
    provenance = scrapy.Field()  # {field: route}
    generic_fields = scrapy.Field()  # sorted fields a generic route read; [] normally. Filter on it.
