"""Where the CPU of one article goes, step by step, offline (no network, no profiler).

The crawl figures say how much more CPU the full crawler needs than a bare spider; this says
which step it is. Pages: page 1 of replica articles, as bytes (charset detection runs).
Each step is timed alone over all pages, best of five passes, in milliseconds per article.

    .venv/bin/python -m bench.breakdown [--articles 300]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from collections.abc import Callable

from scrapy.exporters import JsonLinesItemExporter
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from gmwcrawler.extract import extract_article_page, is_soft_404, merge_pages
from gmwcrawler.incremental.identity import Signature, content_hash, identity_key
from gmwcrawler.incremental.store.base import Record
from gmwcrawler.incremental.store.memory import MemorySeenStore
from gmwcrawler.items import ArticleItem
from gmwcrawler.pipelines.clean import CleanPipeline
from gmwcrawler.pipelines.validate import ValidatePipeline
from tests.replica import render
from tests.replica.model import Site


def _best_ms(step: Callable[[int], object], count: int, passes: int = 5, setup: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for _ in range(passes):
        if setup:
            setup()
        started = time.process_time()
        for i in range(count):
            step(i)
        best = min(best, time.process_time() - started)
    return round(best / count * 1000, 3)


def measure(articles: int = 300) -> dict:
    logging.disable(logging.WARNING)
    site = Site(articles, seed=3)
    arts = [site.article(f"i{i}") for i in range(articles)]
    bodies = [render.article_page(site, art, 1).encode("utf-8") for art in arts]
    n = len(arts)
    responses: list[HtmlResponse] = []

    def fresh() -> None:
        responses[:] = [HtmlResponse(url=art.url, body=body) for art, body in zip(arts, bodies)]

    fresh()
    pages = [extract_article_page(r) for r in responses]
    items = [ArticleItem(**merge_pages([p]), crawled_at="2026-11-23T00:00:00+00:00") for p in pages]
    crawler = get_crawler(settings_dict={"GMW_SEEN_STORE": "memory"})
    validate, clean = ValidatePipeline.from_crawler(crawler), CleanPipeline.from_crawler(crawler)
    cleaned = [clean.process_item(validate.process_item(ArticleItem(item))) for item in items]
    stores: list[MemorySeenStore] = []

    def fresh_store() -> None:
        stores[:] = [MemorySeenStore("bench")]  # empty: every article is new, as in a first crawl

    def dedupe(i: int) -> None:  # what DedupePipeline.process_item computes and asks the store
        item = cleaned[i]
        record = Record(identity_key(item["url"]), item["url"], content_hash(item["content"]),
                        Signature.of(item["content"]), item["publish_time"])
        stores[0].decide(record, 0.7)
        stores[0].alt_urls(record.key)

    buffer = io.BytesIO()
    exporter = JsonLinesItemExporter(buffer, ensure_ascii=False)
    steps = {
        "parse (HtmlResponse, charset, lxml tree)": _best_ms(lambda i: responses[i].selector.root, n, setup=fresh),
        "soft-404 check": _best_ms(lambda i: is_soft_404(responses[i]), n),
        "extraction (extract_article_page)": _best_ms(lambda i: extract_article_page(responses[i]), n),
        "merge pages into an item": _best_ms(
            lambda i: ArticleItem(**merge_pages([pages[i]]), crawled_at="2026-11-23T00:00:00+00:00"), n),
        "validate pipeline": _best_ms(lambda i: validate.process_item(items[i]), n),
        "clean pipeline": _best_ms(lambda i: clean.process_item(ArticleItem(items[i])), n),
        "dedupe (identity, hashes, MinHash, memory seen-store)": _best_ms(dedupe, n, setup=fresh_store),
        "JSON lines export": _best_ms(lambda i: exporter.export_item(cleaned[i]), n),
    }
    ours = {k: v for k, v in steps.items() if not k.startswith("parse")}
    return {"articles": n, "ms_per_article": steps, "ours_total_ms": round(sum(ours.values()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=300)
    print(json.dumps(measure(parser.parse_args().articles), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
