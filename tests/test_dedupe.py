"""Identity keys, the seen-stores and near-duplicate detection (issue #3)."""

from __future__ import annotations

import threading

import pytest

from gmwcrawler.identity import Signature, content_hash, identity_key
from gmwcrawler.seen import Record, Verdict
from gmwcrawler.seen.memory import MemorySeenStore
from gmwcrawler.seen.sqlite import SqliteSeenStore
from tests.fixtures.neardup import corpus, scores
from tests.replica.model import seed_article_text

SEED = "\n".join(seed_article_text()["paragraphs"])
OTHER = "\n".join(seed_article_text()["paragraphs"][::-1][:4]) + "\n另一篇完全不同的报道，讲述了西部地区的铁路建设。"


@pytest.mark.parametrize(
    "url",
    [
        "https://politics.gmw.cn/2026-01/20/content_38547123.htm",
        "http://politics.gmw.cn/2026-01/20/content_38547123.htm",
        "https://www.gmw.cn/2026-01/20/content_38547123.htm",
        "https://news.gmw.cn/2026-01/20/content_38547123.htm",
        "https://share.gmw.cn/politics/2026-01/20/content_38547123.htm",
        "https://politics.gmw.cn/2026-01/20/content_38547123_3.htm",
        "https://politics.gmw.cn/2026-01/20/content_38547123.htm?from=timeline&isappinstalled=0#comment",
        "HTTPS://Politics.GMW.cn/2026-01/20/content_38547123.htm",
    ],
)
def test_url_variants_share_one_identity(url):
    assert identity_key(url) == "gmw:38547123"


def test_mobile_site_has_its_own_numbering():
    assert identity_key("https://m.gmw.cn/2026-01/20/content_38547123.htm") == "m.gmw.cn:38547123"
    assert identity_key("https://www.example.com/a/b.htm?x=1") == "url:www.example.com/a/b.htm"


def test_content_hash_ignores_spacing_and_punctuation():
    assert content_hash("中国，中亚。\n合作") == content_hash("　　中国 中亚\n\n合作！")
    assert content_hash("中国中亚合作") != content_hash("中国中亚合作了")


def record(n: int, body: str, host: str = "politics.gmw.cn") -> Record:
    url = f"https://{host}/2026-11/20/content_{n}.htm"
    return Record(identity_key(url), url, content_hash(body), Signature.of(body), "2026-11-20T10:00:00+08:00")


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request, tmp_path):
    def make(run_id: str = "run-1"):
        if request.param == "memory":
            return MemorySeenStore(run_id)
        return SqliteSeenStore(run_id, tmp_path / "seen.sqlite3")
    return make


def test_decisions(make_store):
    store = make_store()
    assert store.decide(record(1, SEED), 0.7).verdict is Verdict.NEW
    assert store.decide(record(1, SEED, host="www.gmw.cn"), 0.7).verdict is Verdict.DUPLICATE_URL
    same_body = store.decide(record(2, SEED), 0.7)
    assert same_body.verdict is Verdict.DUPLICATE_CONTENT and same_body.kept_key == "gmw:1"
    assert store.alt_urls("gmw:1") == ["https://politics.gmw.cn/2026-11/20/content_2.htm"]
    edited = SEED.replace("互信互利", "互信互利、共同发展")
    near = store.decide(record(3, edited), 0.7)
    assert near.verdict is Verdict.NEAR_DUPLICATE and near.kept_key == "gmw:1" and near.similarity >= 0.7
    assert store.decide(record(4, OTHER), 0.7).verdict is Verdict.NEW
    assert store.decide(record(5, edited), None).verdict is Verdict.NEW  # near-duplicate detection off
    assert store.stored("gmw:2").duplicate_of == "gmw:1"


def test_later_runs_see_unchanged_and_updated(make_store):
    first = make_store("run-1")
    first.decide(record(1, SEED), 0.7)
    first.decide(record(2, OTHER), 0.7)
    first.close()
    second = make_store("run-2") if isinstance(first, SqliteSeenStore) else first
    second.run_id = "run-2"
    assert second.decide(record(1, SEED), 0.7).verdict is Verdict.UNCHANGED
    assert second.decide(record(2, OTHER + "\n（更正）"), 0.7).verdict is Verdict.UPDATED
    assert second.decide(record(2, OTHER + "\n（更正）"), 0.7).verdict is Verdict.DUPLICATE_URL


def test_sqlite_store_survives_a_restart(tmp_path):
    path = tmp_path / "seen.sqlite3"
    store = SqliteSeenStore("run-1", path)
    store.decide(record(1, SEED), 0.7)
    store.close()
    again = SqliteSeenStore("run-2", path)
    assert len(again) == 1
    assert again.stored("gmw:1").url.endswith("content_1.htm")
    assert again.decide(record(9, SEED), 0.7).verdict is Verdict.DUPLICATE_CONTENT


def test_sqlite_decision_is_atomic_across_processes_sharing_the_file(tmp_path):
    path = tmp_path / "seen.sqlite3"
    SqliteSeenStore("init", path).close()
    verdicts: list[Verdict] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        store = SqliteSeenStore(f"run-{n}", path)  # one connection each, as separate processes would have
        barrier.wait()
        verdicts.append(store.decide(record(100 + n, SEED), 0.7).verdict)
        store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verdicts.count(Verdict.NEW) == 1
    assert verdicts.count(Verdict.DUPLICATE_CONTENT) == 7


def test_near_duplicate_precision_and_recall():
    """The corpus of tests/fixtures/neardup.py at the default threshold (README has the full table)."""
    pairs = corpus(articles=40)
    precision, recall, near, far = scores(pairs, 0.7)
    assert near > 150 and far > 100
    assert precision >= 0.99
    assert recall >= 0.85
    easy = [p for p in pairs if p.how in ("typo corrected", "reporter credit added", "headline prefix only")]
    assert scores(easy, 0.7)[1] == 1.0
