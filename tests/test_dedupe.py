"""Identity keys, the seen-stores and near-duplicate detection (issue #3)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from gmwcrawler.distributed.connection import Guard, HotScript
from gmwcrawler.distributed.fingerprints import BloomParams
from gmwcrawler.distributed.keys import Keys
from gmwcrawler.distributed.queue import Outgoing, _sync_args, _sync_keys
from gmwcrawler.distributed.scripts import SYNC
from gmwcrawler.distributed.store import RedisSeenStore
from gmwcrawler.incremental import dupefilter as dupefilter_module
from gmwcrawler.incremental.dupefilter import HopAwareDupeFilter, admits
from gmwcrawler.incremental.identity import Signature, content_hash, field_hashes, identity_key, revision_hash
from gmwcrawler.incremental.store import Decision, Record, Verdict
from gmwcrawler.incremental.store.memory import MemorySeenStore
from gmwcrawler.incremental.store.sqlite import SqliteSeenStore
from gmwcrawler.meta import HOPS_META
from tests.fixtures.neardup import corpus, scores
from tests.replica.model import seed_article_text

ROOT = Path(__file__).resolve().parent.parent

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


def record(n: int, body: str, host: str = "politics.gmw.cn", title: str = "标题") -> Record:
    url = f"https://{host}/2026-11/20/content_{n}.htm"
    fields = field_hashes({"url": url, "title": title, "content": body})
    return Record(identity_key(url), url, content_hash(body), Signature.of(body), "2026-11-20T10:00:00+08:00",
                  fields, revision_hash(fields))


class Stores:
    """The three seen-stores behind one handle whose run can change, as a new crawl's would."""

    def __init__(self, kind: str, tmp_path, redis_url: str | None) -> None:
        self.kind, self.tmp_path, self.redis_url = kind, tmp_path, redis_url
        self.namespace = f"t{uuid.uuid4().hex[:8]}"
        self.run = "run-1"
        self.store = self.open()

    def open(self):
        if self.kind == "memory":
            return MemorySeenStore(self.run)
        if self.kind == "sqlite":
            return SqliteSeenStore(self.run, self.tmp_path / f"{self.namespace}.sqlite3")
        client = redis.Redis.from_url(self.redis_url)
        return RedisSeenStore(client, Guard(self.redis_url, Settings()), Keys(self.namespace, "politics"),
                              lambda: self.run)

    def new_run(self, run: str) -> None:
        """A later crawl: SQLite is opened again (as a new process would), the others see the new id."""
        self.run = run
        if self.kind == "sqlite":
            self.store.close()
            self.store = self.open()
        elif self.kind == "memory":
            self.store.run_id = run


KINDS = ["memory", "sqlite", "redis"]


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory):
    """One server for the module (each test keeps its own namespace)."""
    from tests.conftest import RedisServer, free_port, redis_binary

    server = RedisServer(redis_binary(), free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.slow)])  # a server: slow
def make_store(request, tmp_path):
    def make() -> Stores:
        url = request.getfixturevalue("shared_redis").url if request.param == "redis" else None
        return Stores(request.param, tmp_path, url)
    return make


EDITED = SEED.replace("互信互利", "互信互利、共同发展")
CORRECTED = OTHER + "\n（更正）"
GMW1 = "https://politics.gmw.cn/2026-11/20/content_1.htm"
GMW4 = "https://politics.gmw.cn/2026-11/20/content_4.htm"

# The dedupe decision (issue #16, part 1), one specification for every store: the Python decision of
# seen/base.py is the reference, and the Lua of distributed/seen.py must give the same answers.
# (run, article number, host, body, near-duplicate threshold) -> (verdict, kept key, kept URL, version, changed fields)
SPEC = [
    (("run-1", 1, "politics.gmw.cn", SEED, 0.7), (Verdict.NEW, None, None, 1, None)),
    (("run-1", 1, "www.gmw.cn", SEED, 0.7), (Verdict.DUPLICATE_URL, "gmw:1", GMW1, None, None)),
    (("run-1", 2, "politics.gmw.cn", SEED, 0.7), (Verdict.DUPLICATE_CONTENT, "gmw:1", GMW1, None, None)),
    (("run-1", 3, "politics.gmw.cn", EDITED, 0.7), (Verdict.NEAR_DUPLICATE, "gmw:1", GMW1, None, None)),
    (("run-1", 4, "politics.gmw.cn", OTHER, 0.7), (Verdict.NEW, None, None, 1, None)),
    (("run-1", 5, "politics.gmw.cn", EDITED, None), (Verdict.NEW, None, None, 1, None)),  # near-duplicates off
    # m.gmw.cn numbers its articles itself: its 1 is another article, here with gmw:1's body
    (("run-1", 1, "m.gmw.cn", SEED, 0.7), (Verdict.DUPLICATE_CONTENT, "gmw:1", GMW1, None, None)),
    (("run-2", 1, "politics.gmw.cn", SEED, 0.7), (Verdict.UNCHANGED, "gmw:1", GMW1, None, None)),
    (("run-2", 2, "politics.gmw.cn", SEED, 0.7), (Verdict.DUPLICATE_CONTENT, "gmw:1", GMW1, None, None)),
    (("run-2", 4, "politics.gmw.cn", CORRECTED, 0.7), (Verdict.UPDATED, "gmw:4", GMW4, 2, ["content"])),
    (("run-2", 4, "www.gmw.cn", CORRECTED, 0.7), (Verdict.DUPLICATE_URL, "gmw:4", GMW4, None, None)),
    (("run-3", 4, "politics.gmw.cn", CORRECTED, 0.7), (Verdict.UNCHANGED, "gmw:4", GMW4, None, None)),
    # an unchanged article is not marked as this run's, so another version in the same run is an update
    (("run-3", 4, "politics.gmw.cn", OTHER, 0.7), (Verdict.UPDATED, "gmw:4", GMW4, 3, ["content"])),
]


def answer(decision: Decision) -> tuple:
    return decision.verdict, decision.kept_key, decision.kept_url, decision.version, decision.changed_fields


def delivered(store, rec: Record, threshold: float | None) -> Decision:
    """decide(), and for a kept item the sinks' confirmation at once, as in a run that is not interrupted
    (what an interrupted one does: tests/test_interrupted.py)."""
    decision = store.decide(rec, threshold)
    if decision.verdict.keeps_item:
        store.confirm([rec.key], [])
    return decision


def test_the_decision_table(make_store):
    stores = make_store()
    for (run, n, host, body, threshold), expected in SPEC:
        if run != stores.run:
            stores.new_run(run)
        got = delivered(stores.store, record(n, body, host), threshold)
        assert answer(got) == expected, (run, n, host)
        if got.verdict is Verdict.NEAR_DUPLICATE:
            assert got.similarity >= 0.7
    store = stores.store
    assert store.alt_urls("gmw:1") == ["https://politics.gmw.cn/2026-11/20/content_2.htm",
                                       "https://politics.gmw.cn/2026-11/20/content_3.htm",
                                       "https://m.gmw.cn/2026-11/20/content_1.htm"]
    assert store.stored("gmw:2").duplicate_of == "gmw:1"
    assert store.stored("m.gmw.cn:1").duplicate_of == "gmw:1"
    assert store.stored("gmw:4").duplicate_of is None
    assert len(store) == 3  # gmw:1, gmw:4, gmw:5


BODIES = [SEED, EDITED, OTHER, CORRECTED]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4), st.sampled_from(["politics.gmw.cn", "m.gmw.cn"]),
                                st.integers(0, 3), st.sampled_from(["标题", "新标题"]), st.booleans()),
                      min_size=1, max_size=14))
def test_every_store_decides_as_the_reference(tmp_path, shared_redis, steps):
    """Random sequences of articles over three runs: SQLite and Redis answer as the memory store does."""
    stores = [Stores(kind, tmp_path, shared_redis.url) for kind in KINDS]
    runs = 0
    for run_step, n, host, body, title, near in sorted(steps, key=lambda s: s[0]):
        if run_step > runs:
            runs = run_step
            for s in stores:
                s.new_run(f"run-{1 + runs}")
        rec = record(n, BODIES[body], host, title)
        reference, *others = [answer(delivered(s.store, rec, 0.7 if near else None)) for s in stores]
        for kind, got in zip(KINDS[1:], others, strict=True):
            assert got == reference, (kind, steps)
    keys = {record(n, "x", host).key for _, n, host, *_ in steps}
    for key in sorted(keys):
        reference, *others = [(s.store.stored(key) and s.store.stored(key).duplicate_of, s.store.alt_urls(key))
                              for s in stores]
        assert others == [reference, reference], key
    assert len({len(s.store) for s in stores}) == 1
    stores[1].store.close()


@pytest.mark.slow
def test_a_near_duplicate_tie_goes_to_the_same_article_in_every_store(tmp_path, shared_redis):
    """Two articles equally near a third (one updated to the other's body): found by the property test above in
    CI. Redis took whichever its band sets listed first — an order that changes with each server's hash seed,
    so this failed on some servers only — the local stores the smallest key."""
    stores = [Stores(kind, tmp_path, shared_redis.url) for kind in KINDS]
    steps = [("run-1", 1, EDITED), ("run-1", 4, OTHER), ("run-2", 4, EDITED)]
    for run, n, body in steps:
        for s in stores:
            if s.run != run:
                s.new_run(run)
            delivered(s.store, record(n, body), None)
    answers = [answer(delivered(s.store, record(1, SEED, "m.gmw.cn"), 0.7)) for s in stores]
    assert answers == [(Verdict.NEAR_DUPLICATE, "gmw:1", GMW1, None, None)] * 3
    stores[1].store.close()


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
    """The corpus of tests/fixtures/neardup.py at the default threshold (docs/design.md has the full table)."""
    pairs = corpus(articles=40)
    precision, recall, near, far = scores(pairs, 0.7)
    assert near > 150 and far > 100
    assert precision >= 0.99
    assert recall >= 0.85
    easy = [p for p in pairs if p.how in ("typo corrected", "reporter credit added", "headline prefix only")]
    assert scores(easy, 0.7)[1] == 1.0


def test_a_store_written_before_the_content_index_finds_its_bodies(tmp_path):
    """SQLite stores of earlier versions have no `contents` table: opening one fills it from the originals."""
    path = tmp_path / "seen.sqlite3"
    store = SqliteSeenStore("run-1", path)
    store.decide(record(1, SEED), 0.7)
    store._db.execute("DROP TABLE contents")
    store.close()
    again = SqliteSeenStore("run-2", path)
    assert answer(again.decide(record(2, SEED), 0.7)) == (Verdict.DUPLICATE_CONTENT, "gmw:1", GMW1, None, None)


# -- the shortest-path rule (gmwcrawler/incremental/dupefilter.py): admits() is the reference ------------------------

HOPS = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([None, 0, 1, 2])), max_size=12)


def reference(steps) -> list[bool]:
    known: dict[str, int] = {}
    passed = []
    for fp, hops in steps:
        passed.append(admits(known.get(fp), hops))
        if passed[-1]:
            known[fp] = 0 if hops is None else hops
    return passed


def filter_answers(steps) -> list[bool]:
    crawler = get_crawler(Spider)
    dupefilter = HopAwareDupeFilter.from_crawler(crawler)
    return [not dupefilter.request_seen(Request(f"https://politics.gmw.cn/{fp}.htm", meta={HOPS_META: hops}
                                                if hops is not None else {})) for fp, hops in steps]


def redis_answers(client, steps, mode: str = "set") -> list[bool]:
    keys = Keys(f"t{uuid.uuid4().hex[:8]}", "politics")
    sync = HotScript(client, SYNC)
    bloom = BloomParams.for_capacity(1000, 0.001) if mode == "bloom" else None
    answers = []
    for fp, hops in steps:
        queued, _ = sync(keys=_sync_keys(keys), args=_sync_args(60_000, 0, [], [Outgoing("{}", 0, fp, hops)], mode, bloom))
        answers.append(queued[0] != 0)
    return answers


@settings(max_examples=80, deadline=None)
@given(steps=HOPS)
def test_the_scrapy_filter_keeps_the_shortest_path_rule(steps):
    assert filter_answers(steps) == reference(steps)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=HOPS)
def test_the_redis_queue_keeps_the_shortest_path_rule(shared_redis, steps):
    assert redis_answers(redis.Redis.from_url(shared_redis.url), steps) == reference(steps)


def test_a_request_without_hops_after_one_with_them_is_a_duplicate():
    """Before issue #16 the Scrapy filter kept the two in separate sets and fetched the page twice."""
    assert filter_answers([("a", 1), ("a", None)]) == [True, False]
    assert filter_answers([("a", None), ("a", 0)]) == [True, False]


def test_bloom_mode_gives_up_the_shortest_path_rule_and_says_so(shared_redis):
    steps = [("a", 1), ("a", 0)]  # reached through related reading first, then from a listing
    assert reference(steps) == [True, True]
    assert redis_answers(redis.Redis.from_url(shared_redis.url), steps, "bloom") == [True, False]
    doc = " ".join(dupefilter_module.__doc__.split())
    assert "With `GMW_DUPEFILTER=bloom` it does NOT" in doc
    assert "keeps no hop counts" in " ".join((ROOT / "docs" / "operations.md").read_text().split())
