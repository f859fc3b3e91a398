"""The PostgreSQL sink against the machine's real PostgreSQL (issue #3)."""

from __future__ import annotations

import json

import psycopg
import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler

from gmwcrawler.items import ArticleItem
from gmwcrawler.pipelines.drops import ItemDropped
from gmwcrawler.pipelines.postgres import PostgresPipeline
from tests.conftest import PYTHON, ROOT, run_crawl


def article(n: int, content: str = "第一段。\n第二段。") -> ArticleItem:
    return ArticleItem(url=f"https://politics.gmw.cn/2026-11/20/content_{n}.htm", article_id=str(n), title=f"标题{n}",
                       publish_time="2026-11-20T10:00:00+08:00", source="光明网", editor="邢彬", reporters=["张三"],
                       channel=["时政频道", "国内"], keywords=["中国"], content=f"{content}{n}", content_html="<p>x</p>",
                       images=[{"url": "https://img.gmw.cn/a.jpg", "caption": "图"}], videos=[], related=[], page_count=1,
                       crawled_at="2026-11-23T00:00:00+00:00")


def pipeline(dsn: str, **settings) -> PostgresPipeline:
    crawler = get_crawler(settings_dict={"GMW_SEEN_STORE": "memory", "GMW_POSTGRES_DSN": dsn, **settings})
    sink = PostgresPipeline.from_crawler(crawler)
    sink.open_spider()
    return sink


def rows(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT article_id, version, content, updated_at, alt_urls FROM gmw_articles").fetchall()
    return {r[0]: r[1:] for r in found}


def test_upsert_versions_and_batches(postgres_dsn):
    sink = pipeline(postgres_dsn, GMW_POSTGRES_BATCH_SIZE=2)
    for n in range(1, 6):
        sink.process_item(article(n))
    assert sink.crawler.stats.get_value("gmw/postgres/batches") == 2  # two full batches written while crawling
    sink.close_spider()
    stored = rows(postgres_dsn)
    assert sorted(stored) == ["1", "2", "3", "4", "5"] and {v[0] for v in stored.values()} == {1}

    again = pipeline(postgres_dsn)
    again.process_item(article(1))  # unchanged
    again.process_item(article(2, content="更正后的第一段。\n第二段。"))  # changed
    again.close_spider()
    stats = again.crawler.stats
    assert (stats.get_value("gmw/postgres/unchanged"), stats.get_value("gmw/postgres/updated")) == (1, 1)
    after = rows(postgres_dsn)
    assert after["1"][0] == 1 and after["1"][2] == stored["1"][2]
    assert after["2"][0] == 2 and after["2"][1].startswith("更正后") and after["2"][2] > stored["2"][2]


def test_duplicates_add_alt_urls(postgres_dsn):
    sink = pipeline(postgres_dsn)
    sink.process_item(article(100))
    dropped = ItemDropped("duplicate_content", "the same body", "https://politics.gmw.cn/2026-11/20/content_101.htm",
                          kept_key="gmw:100", kept_url="https://politics.gmw.cn/2026-11/20/content_100.htm")
    sink.crawler.signals.send_catch_log(signals.item_dropped, item=article(101), response=None, exception=dropped,
                                        spider=None)
    sink.close_spider()
    assert rows(postgres_dsn)["100"][3] == ["https://politics.gmw.cn/2026-11/20/content_101.htm"]


def test_author_is_stored_apart_from_the_editor(postgres_dsn):
    sink = pipeline(postgres_dsn)
    sink.process_item(ArticleItem(article(900), author="光明网评论员"))
    sink.process_item(article(901))  # an item of a crawler version before the field: NULL
    sink.close_spider()
    with psycopg.connect(postgres_dsn) as conn:
        found = dict(conn.execute("SELECT article_id, author FROM gmw_articles WHERE article_id IN ('900', '901')").fetchall())
    assert found == {"900": "光明网评论员", "901": None}


def test_migrations_are_applied_once(postgres_dsn):
    pipeline(postgres_dsn).close_spider()
    pipeline(postgres_dsn).close_spider()
    with psycopg.connect(postgres_dsn) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM gmw_schema_migrations ORDER BY name")]
    assert names == ["001_articles.sql", "002_author.sql", "003_versions.sql"]  # each once


def test_unwritable_batch_goes_to_the_fallback_file(postgres_dsn, tmp_path):
    fallback = tmp_path / "unwritten.jsonl"
    sink = pipeline(postgres_dsn, GMW_POSTGRES_FALLBACK=str(fallback))
    sink.dsn = "postgresql://postgres@127.0.0.1:1/nowhere"  # the server goes away mid-crawl
    sink.conn.close()
    sink.process_item(article(200))
    sink.close_spider()
    assert sink.crawler.stats.get_value("gmw/postgres/unwritten") == 1
    saved = [json.loads(line) for line in fallback.read_text("utf-8").splitlines()]
    assert saved[0]["article_id"] == "200" and saved[0]["images"][0]["caption"] == "图"


def test_crawl_into_postgres(replica, postgres_dsn, tmp_path):
    result = run_crawl(replica, tmp_path, "start_urls=https://politics.gmw.cn/node_9844.htm",
                       settings={"GMW_POSTGRES_DSN": postgres_dsn})
    assert result.returncode == 0
    stored = rows(postgres_dsn)
    assert {i["article_id"] for i in result.items} <= set(stored)
    assert result.stat("gmw/postgres/inserted") == len(result.items)


@pytest.mark.parametrize("dsn", ["postgresql://crawler:s3cret@127.0.0.1:1/gmw", "host=127.0.0.1 port=1 password=s3cret"])
def test_unreachable_database_is_one_clear_line(dsn, tmp_path):
    import subprocess

    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-s", f"GMW_POSTGRES_DSN={dsn}", "-O",
                           str(tmp_path / "out.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "cannot connect to PostgreSQL" in errors[0] and "***" in errors[0]
