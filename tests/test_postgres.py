"""The PostgreSQL sink against the machine's real PostgreSQL (issue #3)."""

from __future__ import annotations

import json
from importlib import resources

import psycopg
import pytest
from scrapy import signals
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from gmwcrawler.items import ArticleItem
from gmwcrawler.pipelines.drops import ItemDropped
from gmwcrawler.postgres.history import HistoryError, history
from gmwcrawler.postgres.sink import PostgresPipeline
from tests.conftest import PYTHON, ROOT, run_crawl

MIGRATIONS = sorted(e.name for e in resources.files("gmwcrawler.postgres.migrations").iterdir()
                    if e.name[:1].isdigit() and e.name.endswith((".sql", ".py")))


def article(n: int, content: str = "第一段。\n第二段。", host: str = "politics.gmw.cn") -> ArticleItem:
    return ArticleItem(url=f"https://{host}/2026-11/20/content_{n}.htm", article_id=str(n), title=f"标题{n}",
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


def finish(sink: PostgresPipeline) -> None:
    """What close_spider does, on this thread: write what was added, close the connection."""
    sink.flush()
    sink.close()


def test_upsert_versions_and_batches(postgres_dsn):
    sink = pipeline(postgres_dsn)
    for n in range(1, 6):
        sink.add(article(n))
        if n % 2 == 0:
            sink.flush()
    assert sink.crawler.stats.get_value("gmw/postgres/batches") == 2
    finish(sink)
    stored = rows(postgres_dsn)
    assert sorted(stored) == ["1", "2", "3", "4", "5"] and {v[0] for v in stored.values()} == {1}

    again = pipeline(postgres_dsn)
    again.add(article(1))  # unchanged
    again.add(article(2, content="更正后的第一段。\n第二段。"))  # changed
    finish(again)
    stats = again.crawler.stats
    assert (stats.get_value("gmw/postgres/unchanged"), stats.get_value("gmw/postgres/updated")) == (1, 1)
    after = rows(postgres_dsn)
    assert after["1"][0] == 1 and after["1"][2] == stored["1"][2]
    assert after["2"][0] == 2 and after["2"][1].startswith("更正后") and after["2"][2] > stored["2"][2]


def test_duplicates_add_alt_urls(postgres_dsn):
    sink = pipeline(postgres_dsn)
    sink.add(article(100))
    dropped = ItemDropped("duplicate_content", "the same body", "https://politics.gmw.cn/2026-11/20/content_101.htm",
                          kept_key="gmw:100", kept_url="https://politics.gmw.cn/2026-11/20/content_100.htm")
    sink.crawler.signals.send_catch_log(signals.item_dropped, item=article(101), response=None, exception=dropped,
                                        spider=None)
    finish(sink)
    assert rows(postgres_dsn)["100"][3] == ["https://politics.gmw.cn/2026-11/20/content_101.htm"]


def test_author_is_stored_apart_from_the_editor(postgres_dsn):
    sink = pipeline(postgres_dsn)
    sink.add(ArticleItem(article(900), author="光明网评论员"))
    sink.add(article(901))  # an item of a crawler version before the field: NULL
    finish(sink)
    with psycopg.connect(postgres_dsn) as conn:
        found = dict(conn.execute("SELECT article_id, author FROM gmw_articles WHERE article_id IN ('900', '901')").fetchall())
    assert found == {"900": "光明网评论员", "901": None}


def test_migrations_are_applied_once(postgres_dsn):
    finish(pipeline(postgres_dsn))
    finish(pipeline(postgres_dsn))
    with psycopg.connect(postgres_dsn) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM gmw_schema_migrations ORDER BY name")]
    assert names == MIGRATIONS  # each once


def test_provenance_and_the_generic_flag_are_columns(postgres_dsn):
    """An article read by a generic route (docs/design.md, "When gmw.cn redesigns its pages") is stored, flagged."""
    sink = pipeline(postgres_dsn)
    sink.add(ArticleItem(article(710), provenance={"title": "a", "content": "generic"}, generic_fields=["content"]))
    sink.add(article(711))  # an item of an earlier version: no provenance
    finish(sink)
    with psycopg.connect(postgres_dsn) as conn:
        found = conn.execute("SELECT article_id, provenance, generic_fields FROM gmw_articles"
                             " WHERE article_id IN ('710', '711') ORDER BY 1").fetchall()
        kept = [r[0] for r in conn.execute("SELECT article_id FROM gmw_articles WHERE article_id IN ('710', '711')"
                                            " AND generic_fields = '{}'")]
    assert found == [("710", {"title": "a", "content": "generic"}, ["content"]), ("711", {}, [])]
    assert kept == ["711"]


def test_a_fallback_line_of_an_earlier_version_is_replayed_with_empty_new_columns(postgres_dsn):
    from gmwcrawler.postgres.sink import COLUMNS, _Batch

    sink = pipeline(postgres_dsn)
    sink.add(article(720))
    line = json.loads(sink.batch.to_lines()[0])
    sink.batch = _Batch()
    for column in ("provenance", "generic_fields"):
        del line["row"][column]
    batch = _Batch.from_lines([json.dumps(line)], sink.jsonb)
    sink.write(batch)
    finish(sink)
    with psycopg.connect(postgres_dsn) as conn:
        found = conn.execute("SELECT provenance, generic_fields FROM gmw_articles WHERE article_id = '720'").fetchall()
    assert found == [({}, [])] and "generic_fields" in COLUMNS


def test_a_mobile_article_with_a_politics_articles_number_is_another_row(postgres_dsn):
    """m.gmw.cn numbers its articles itself (gmwcrawler.incremental.identity): before issue #16 the sink upserted on
    article_id, and the mobile article overwrote the politics one, which the seen-store kept apart."""
    sink = pipeline(postgres_dsn)
    sink.add(article(700, content="政治新闻。"))
    sink.add(article(700, content="手机版的另一篇。", host="m.gmw.cn"))
    finish(sink)
    with psycopg.connect(postgres_dsn) as conn:
        found = conn.execute("SELECT identity_key, version, content FROM gmw_articles WHERE article_id = '700'"
                             " ORDER BY 1").fetchall()
        versions = conn.execute("SELECT identity_key, version FROM gmw_article_versions WHERE article_id = '700'"
                                " ORDER BY 1").fetchall()
    assert found == [("gmw:700", 1, "政治新闻。700"), ("m.gmw.cn:700", 1, "手机版的另一篇。700")]
    assert versions == [("gmw:700", 1), ("m.gmw.cn:700", 1)]
    settings = Settings({"GMW_POSTGRES_DSN": postgres_dsn})
    with pytest.raises(HistoryError, match=r"^700 names 2 articles: gmw:700, m.gmw.cn:700; give one of these$"):
        history(settings, "700")
    assert "1 version(s)" in history(settings, "m.gmw.cn:700")


def test_a_database_keyed_on_article_id_is_migrated_to_the_identity_key(own_postgres_dsn):
    """A database written before issue #16 (migrations 001-003): the key of each row comes from its URL, by
    Python's identity_key(), and the versions follow it through their foreign key."""
    migrations = resources.files("gmwcrawler.postgres.migrations")
    with psycopg.connect(own_postgres_dsn) as conn:
        for name in ("001_articles.sql", "002_author.sql", "003_versions.sql"):
            conn.execute(migrations.joinpath(name).read_text("utf-8"))
        conn.execute("CREATE TABLE gmw_schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL"
                     " DEFAULT now())")
        conn.execute("INSERT INTO gmw_schema_migrations (name) VALUES ('001_articles.sql'), ('002_author.sql'),"
                     " ('003_versions.sql')")
        for n, host in ((801, "politics.gmw.cn"), (802, "m.gmw.cn"), (803, "www.gmw.cn")):
            conn.execute("INSERT INTO gmw_articles (article_id, url, title, publish_time, content, content_hash,"
                         " crawled_at) VALUES (%s, %s, 't', now(), 'c', 'h', now())",
                         (str(n), f"https://{host}/2026-11/20/content_{n}.htm"))
            conn.execute("INSERT INTO gmw_article_versions (article_id, version, fetched_at, title, content,"
                         " content_hash) VALUES (%s, 1, now(), 't', 'c', 'h')", (str(n),))
    sink = pipeline(own_postgres_dsn)
    sink.add(article(802, content="政治新闻。"))  # politics.gmw.cn's 802: a new row beside the mobile one
    finish(sink)
    with psycopg.connect(own_postgres_dsn) as conn:
        keys = conn.execute("SELECT identity_key, article_id FROM gmw_articles ORDER BY 1").fetchall()
        versions = conn.execute("SELECT identity_key, version FROM gmw_article_versions ORDER BY 1").fetchall()
        key_columns = conn.execute(
            "SELECT tc.table_name, tc.constraint_type, kcu.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu USING (constraint_name, table_name)"
            " WHERE tc.table_name LIKE 'gmw_article%' AND tc.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')"
            " ORDER BY 1, 2, kcu.ordinal_position").fetchall()
        conn.execute("DELETE FROM gmw_articles WHERE identity_key = 'm.gmw.cn:802'")
        cascaded = conn.execute("SELECT count(*) FROM gmw_article_versions WHERE identity_key = 'm.gmw.cn:802'").fetchone()
    assert keys == [("gmw:801", "801"), ("gmw:802", "802"), ("gmw:803", "803"), ("m.gmw.cn:802", "802")]
    assert versions == [("gmw:801", 1), ("gmw:802", 1), ("gmw:803", 1), ("m.gmw.cn:802", 1)]
    assert key_columns == [("gmw_article_versions", "FOREIGN KEY", "identity_key"),
                           ("gmw_article_versions", "PRIMARY KEY", "identity_key"),
                           ("gmw_article_versions", "PRIMARY KEY", "version"),
                           ("gmw_articles", "PRIMARY KEY", "identity_key")]
    assert cascaded == (0,)


def test_unwritable_batch_goes_to_the_fallback_file(postgres_dsn, tmp_path):
    fallback = tmp_path / "unwritten.jsonl"
    sink = pipeline(postgres_dsn, GMW_POSTGRES_FALLBACK=str(fallback))
    sink.dsn = "postgresql://postgres@127.0.0.1:1/nowhere"  # the server goes away mid-crawl
    sink.conn.close()
    sink.add(article(200))
    finish(sink)
    assert sink.crawler.stats.get_value("gmw/postgres/unwritten") == 1
    saved = [json.loads(line) for line in fallback.read_text("utf-8").splitlines()]
    assert saved[0]["row"]["article_id"] == "200" and saved[0]["row"]["images"][0]["caption"] == "图"


@pytest.mark.slow
def test_the_fallback_file_is_complete_and_replayed_once(own_postgres_dsn, tmp_path):
    """Rows, their versions and alt URLs a run could not write are loaded back by `scrapy gmw replay`;
    replaying the same rows again changes nothing. Before, the file held rows without their versions or alt
    URLs, and nothing loaded it back."""
    import subprocess

    fallback = tmp_path / "unwritten.jsonl"
    sink = pipeline(own_postgres_dsn, GMW_POSTGRES_FALLBACK=str(fallback))
    sink.dsn = "postgresql://postgres@127.0.0.1:1/nowhere"
    sink.conn.close()
    sink.add(article(300))
    sink.add(ArticleItem(article(301, content="更正。"), version=2, changed_fields=["content"]))
    sink.crawler.signals.send_catch_log(signals.item_dropped, item=article(302), response=None, spider=None,
                                        exception=ItemDropped("duplicate_content", "same body", article(302)["url"],
                                                              kept_key="gmw:300", kept_url=article(300)["url"]))
    finish(sink)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(fallback.read_bytes())

    def gmw_replay(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "scrapy", "gmw", "replay", *args, "-s", f"GMW_POSTGRES_DSN={own_postgres_dsn}",
                               "-s", f"GMW_POSTGRES_FALLBACK={fallback}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, check=False)

    done = gmw_replay()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "replayed 2 row(s) and 1 alt URL(s)" in done.stdout and not fallback.exists()
    assert gmw_replay().stdout.startswith("nothing to replay")
    again = gmw_replay(str(copy))
    assert again.returncode == 0, again.stderr[-2000:]
    with psycopg.connect(own_postgres_dsn) as conn:
        found = conn.execute("SELECT article_id, version, alt_urls FROM gmw_articles ORDER BY 1").fetchall()
        versions = conn.execute("SELECT article_id, version FROM gmw_article_versions ORDER BY 1").fetchall()
    assert found == [("300", 1, [article(302)["url"]]), ("301", 1, [])]
    assert versions == [("300", 1), ("301", 1)]


def test_crawl_into_postgres(replica, postgres_dsn, tmp_path):
    result = run_crawl(replica, tmp_path, "start_urls=https://politics.gmw.cn/node_9844.htm",
                       settings={"GMW_POSTGRES_DSN": postgres_dsn})
    assert result.returncode == 0
    stored = rows(postgres_dsn)
    assert {i["article_id"] for i in result.items} <= set(stored)
    assert result.stat("gmw/postgres/inserted") == len(result.items)


@pytest.mark.slow
@pytest.mark.parametrize("dsn", ["postgresql://crawler:s3cret@127.0.0.1:1/gmw", "host=127.0.0.1 port=1 password=s3cret"])
def test_unreachable_database_is_one_clear_line(dsn, tmp_path):
    import subprocess

    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-s", f"GMW_POSTGRES_DSN={dsn}", "-O",
                           str(tmp_path / "out.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "cannot connect to PostgreSQL" in errors[0] and "***" in errors[0]


def test_three_workers_starting_together_on_a_fresh_database_all_start(own_postgres_dsn):
    """What `docker compose up --scale worker=3` does. Before, the migrations table was created before the
    lock was taken, and two of three workers failed with a UniqueViolation traceback (8 tries of 8)."""
    import threading

    from gmwcrawler.postgres.database import connect, migrate

    barrier, failures, applied = threading.Barrier(3), [], []

    def worker() -> None:
        with connect(own_postgres_dsn, 5) as conn:
            barrier.wait()
            try:
                applied.append(migrate(conn))
            except psycopg.Error as exc:
                failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(len(names) for names in applied) == [0, 0, len(MIGRATIONS)]  # one applied them all, once


def test_every_statement_has_a_timeout(postgres_dsn):
    from gmwcrawler.postgres.database import connect

    with connect(postgres_dsn, 5, statement_timeout=7) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
        assert conn.info.get_parameters()["keepalives"] == "1"


@pytest.mark.slow
def test_a_role_that_may_not_create_tables_is_one_line_before_the_crawl(own_postgres_dsn, tmp_path):
    import subprocess

    from gmwcrawler.postgres.database import connect, migrate

    role = "gmw_test_writer"
    with psycopg.connect(own_postgres_dsn, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
    base, _, database = own_postgres_dsn.rpartition("/")
    as_writer = f"{base.replace('postgres@', f'{role}@')}/{database}"
    try:
        done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-s", f"GMW_POSTGRES_DSN={as_writer}", "-O",
                               str(tmp_path / "out.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and f"role '{role}' may not apply" in errors[0], done.stderr[-2000:]
        # once the owner has migrated the database, rights to read and write rows are enough
        with psycopg.connect(own_postgres_dsn, autocommit=True) as owner:
            migrate(owner)
            owner.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
        with connect(as_writer, 5) as conn:
            assert migrate(conn) == []
    finally:
        with psycopg.connect(own_postgres_dsn, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(base + "/postgres", autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
