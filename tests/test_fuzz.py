"""Any bytes in, no traceback out (issue #17): every real page of tests/fixtures/real, mutated the
ways tests/fuzz/mutate.py lists, through extraction and the item pipelines. A mutant may be
dropped with a reason; it may never raise, and no string that comes out holds a control character
or anything that is not valid UTF-8.

The fast form is hypothesis-driven (a few seconds); `pytest -m budget tests/test_fuzz.py` runs the
seeded 20,000-mutant form (about three minutes here)."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from gmwcrawler.extract import extract_article_page, extract_listing, is_soft_404, merge_pages
from gmwcrawler.incremental.identity import Signature, content_hash, identity_key
from gmwcrawler.incremental.store.base import Record
from gmwcrawler.incremental.store.memory import MemorySeenStore
from gmwcrawler.items import ArticleItem
from gmwcrawler.pipelines.clean import CleanPipeline
from gmwcrawler.pipelines.drops import ItemDropped
from gmwcrawler.pipelines.validate import ValidatePipeline
from tests.fuzz.mutate import LISTING_URL, MUTATIONS, URLS, mutate, real_pages

PAGES = real_pages()
# what no extracted string may hold: C0 controls but tab/newline/CR, DEL, C1, U+FFFE/U+FFFF
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


def assert_clean(value: Any, where: str) -> None:
    for text in strings(value):
        text.encode("utf-8")  # raises on a lone surrogate
        assert not CONTROL.search(text), f"{where}: control character in {text[:80]!r}"


class Pipelines:
    """validate → clean → the dedupe decision (identity key, content hash, MinHash, seen-store)."""

    def __init__(self) -> None:
        crawler = get_crawler(settings_dict={"GMW_SEEN_STORE": "memory"})
        self.validate = ValidatePipeline.from_crawler(crawler)
        self.clean = CleanPipeline.from_crawler(crawler)
        self.store = MemorySeenStore("fuzz")

    def run(self, item: ArticleItem) -> ArticleItem | None:
        try:
            item = self.clean.process_item(self.validate.process_item(item))
        except ItemDropped:
            return None
        record = Record(identity_key(item["url"]), item["url"], content_hash(item["content"]),
                        Signature.of(item["content"]), item["publish_time"])
        self.store.decide(record, 0.7)
        return item


def check_mutant(name: str, data: bytes, pipelines: Pipelines) -> None:
    response = HtmlResponse(URLS[name], body=data)
    is_soft_404(response)
    page = extract_article_page(response)
    assert_clean(vars(page), "article page")
    listing = extract_listing(HtmlResponse(LISTING_URL, body=data))
    assert_clean([(e.url, e.title) for e in listing.entries], "listing")
    fields = merge_pages([page])
    if fields["title"] and fields["content"]:  # else the spider counts it unparseable, no item
        item = pipelines.run(ArticleItem(**fields, crawled_at="2026-12-02T00:00:00+00:00"))
        if item is not None:
            assert_clean(dict(item), "item")


@pytest.fixture(scope="module")
def pipelines() -> Pipelines:
    return Pipelines()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(URLS)), seed=st.integers(0, 2**32 - 1), rounds=st.integers(1, 3))
def test_mutated_real_pages_never_raise(pipelines, name, seed, rounds):
    data, _ = mutate(PAGES[name], random.Random(seed), rounds)
    check_mutant(name, data, pipelines)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_on_each_real_page(pipelines, mutation):
    rng = random.Random(mutation)
    for name, data in PAGES.items():
        check_mutant(name, MUTATIONS[mutation](data, rng), pipelines)


@pytest.mark.parametrize(("name", "filler"), [(n, (b"\xe5\x85\x89", b"<b>")[i % 2]) for i, n in enumerate(sorted(URLS))])
def test_ten_megabyte_single_line_in_the_body(pipelines, name, filler):
    at = PAGES[name].find(b"<p>")
    check_mutant(name, PAGES[name][:at] + b"<p>" + filler * (10_000_000 // len(filler)) + b"</p>" + PAGES[name][at:],
                 pipelines)


def test_broken_ipv6_href_and_control_character_still_give_the_article():
    """The two crashes of issue #17, in the body of the real 2024 page: the link is skipped (its
    text stays), the character removed, the rest of the article as without them."""
    name = "2024-05-13_politics_content_37319243_browser_saved.html"
    page = extract_article_page(HtmlResponse(URLS[name], body=PAGES[name]))
    body_start = b"<!--enpcontent--><p>"
    assert PAGES[name].count(body_start) == 1
    broken = PAGES[name].replace(body_start, b'<!--enpcontent--><p>\xe5\x85\x89\x01<a href="http://[2001:db8::1">link</a></p><p>', 1)
    mutated = extract_article_page(HtmlResponse(URLS[name], body=broken))
    assert mutated.paragraphs == ["光link", *page.paragraphs]
    assert mutated.bad_links == 1
    assert "2001:db8" not in mutated.content_html and "\x01" not in mutated.content_html
    assert (mutated.title, mutated.publish_time, mutated.source, mutated.editor) == (
        page.title, page.publish_time, page.source, page.editor)
    assert mutated.images == page.images and mutated.related == page.related


def test_bad_links_are_counted_and_skipped():
    name = "2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html"
    body = PAGES[name].replace(b"<p>", b'<p><a href="http://[2001:db8::1">a</a><img src="http://:99999/x.jpg">', 1)
    page = extract_article_page(HtmlResponse(URLS[name], body=body))
    assert page.bad_links == 2
    assert all("2001:db8" not in img["url"] for img in page.images)


@pytest.mark.budget
@pytest.mark.slow
def test_twenty_thousand_mutants_never_raise(pipelines):
    rng = random.Random(20261202)
    names = sorted(URLS)
    for _ in range(20_000):
        name = rng.choice(names)
        data, kinds = mutate(PAGES[name], rng)
        try:
            check_mutant(name, data, pipelines)
        except Exception as exc:  # say which mutant, so it can be replayed
            raise AssertionError(f"{name} after {kinds}: {type(exc).__name__}: {exc}") from exc


ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)  # surrogates included


@settings(max_examples=300, deadline=None)
@given(url=ANY_TEXT | ANY_TEXT.map(lambda t: "https://politics.gmw.cn/" + t), content=ANY_TEXT)
def test_identity_keys_hashes_and_minhash_of_any_text(url, content):
    """What a poisoned Redis entry's page dicts could carry into the dedupe step (lone surrogates included)."""
    assert identity_key(url)
    assert len(content_hash(content)) == 32
    assert Signature.of(content).similarity(Signature.of(content)) == 1.0


@pytest.mark.parametrize("content", ["", "光" * 1_000_000, "\x00\ud800\udfff" * 1000], ids=["empty", "huge", "binary"])
def test_minhash_of_empty_huge_and_binary_text(content):
    assert Signature.of(content).similarity(Signature.of(content)) == 1.0
