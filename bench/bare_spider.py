"""The baseline: a bare Scrapy spider that follows the same links as `politics` — listings
and their pager, articles and their pages, related reading one hop deep — and does nothing
else (no extraction, no item, no pipeline). Run with `scrapy runspider` outside the project.

`-a items=1` (with `-O feed.jsonl`) makes it yield a one-field item per article (its first page): what
Scrapy's item path and feed export cost by themselves, before any extraction."""

from __future__ import annotations

import re

import scrapy

ARTICLE = re.compile(r"/content_\d+(_\d+)?\.htm$")
PAGE_SUFFIX = re.compile(r"(/content_\d+)_\d+\.htm$")


class BareSpider(scrapy.Spider):
    name = "bare"
    allowed_domains = ("gmw.cn",)
    start_urls = tuple(f"https://politics.gmw.cn/node_{n}.htm" for n in (9840, 9844, 9831, 9828, 9826, 10495))
    max_list_pages = 10
    items = "0"

    async def start(self):
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse_listing, cb_kwargs={"page": 1}, priority=10)

    def parse_listing(self, response, page):
        for href in response.css("ul.channel-newsGroup > li a::attr(href)").getall():
            if ARTICLE.search(href):
                yield response.follow(href, callback=self.parse_article, cb_kwargs={"hops": 0})
        nxt = response.xpath("//*[@id='displaypagenum' or contains(@class, 'pageNum')]//a[normalize-space(.)='下一页']/@href").get()
        if nxt and page < int(self.max_list_pages):
            yield response.follow(nxt, callback=self.parse_listing, cb_kwargs={"page": page + 1}, priority=10)

    def parse_article(self, response, hops):
        if self.items == "1" and not PAGE_SUFFIX.search(response.url):
            yield {"url": response.url}
        nxt = response.xpath("//*[@id='displaypagenum' or contains(@class, 'pageNum')]//a[normalize-space(.)='下一页']/@href").get()
        if nxt:
            yield response.follow(nxt, callback=self.parse_article, cb_kwargs={"hops": hops}, priority=1)
        if hops == 0:
            # static related links where the replica has them (the 2012 link grid's are not)
            related = response.css("#contentRelated a::attr(href), .u-mainText p a::attr(href), #ContentPh p a::attr(href),"
                                   " .h-contentMain p a::attr(href)").getall()
            related += response.xpath("//*[@id='contentMain']//p[not(ancestor::table)]//a/@href").getall()
            for href in related:
                if ARTICLE.search(href) and "content_logo" not in href:
                    yield response.follow(PAGE_SUFFIX.sub(r"\1.htm", href), callback=self.parse_article,
                                          cb_kwargs={"hops": 1}, priority=-1)
