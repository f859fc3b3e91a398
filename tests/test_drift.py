"""Markup drift is noticed (issue #11, part 7): the run report compares each field's extraction
paths with the earlier runs'."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import redis

from gmwcrawler.health.drift import Drift, FileHistory, RedisHistory, counts_from_stats, is_fallback, judge
from tests.conftest import run_crawl, start_replica, stop_replica

GOOD = {"title": {"a": 30}, "source": {"a": 28, "b": 2}, "keywords": {"enp": 30}}


def test_counts_come_from_the_extraction_stats():
    stats = {"gmw/extract/title/a": 3, "gmw/extract/title/enp": 1, "gmw/extract/bad_link": 2,
             "gmw/extract/publish_time/a+enp": 4, "gmw/article/items": 4}
    assert counts_from_stats(stats) == {"title": {"a": 3, "enp": 1}, "publish_time": {"a+enp": 4}}


def test_fallback_paths_are_what_no_template_serves():
    assert is_fallback("title", "enp")
    assert is_fallback("article_id", "meta")
    assert is_fallback("content", "bd")
    assert not is_fallback("publish_time", "a+enp")
    assert not is_fallback("keywords", "enp")  # the comment is where keywords usually come from
    assert not is_fallback("author", "line")
    assert not is_fallback("title", "missing")  # `missing` is judged on its own


def test_a_field_gone_missing_is_drift():
    now = {"title": {"a": 30}, "source": {"missing": 25, "b": 5}, "keywords": {"enp": 30}}
    assert judge(now, [GOOD], threshold=0.3, min_articles=20) == [
        Drift("source", "missing", 25 / 30, 0.0, 30, 30)]


def test_a_field_served_by_a_fallback_is_drift():
    now = {"title": {"enp": 24, "a": 6}, "source": {"a": 30}, "keywords": {"enp": 30}}
    assert [(d.field, d.path) for d in judge(now, [GOOD], 0.3, 20)] == [("title", "enp")]


def test_a_rise_below_the_threshold_is_not_drift():
    now = {"title": {"enp": 8, "a": 22}, "source": {"a": 30}, "keywords": {"enp": 30}}
    assert judge(now, [GOOD], 0.3, 20) == []


def test_small_runs_are_pooled_with_the_newest_earlier_runs():
    # a 15-minute timer: 5 articles a run; the newest runs are judged together
    small_bad = {"title": {"a": 5}, "source": {"missing": 5}}
    history = [GOOD, small_bad, small_bad, small_bad]
    found = judge(small_bad, history, 0.3, 20)
    assert [(d.field, d.path, d.articles, d.baseline_articles) for d in found] == [("source", "missing", 20, 30)]


def test_nothing_is_judged_without_enough_history():
    bad = {"title": {"missing": 30}}
    assert judge(bad, [], 0.3, 20) == []
    assert judge(bad, [{"title": {"a": 10}}], 0.3, 20) == []


def test_file_history_keeps_the_newest_runs_and_survives_damage(tmp_path):
    history = FileHistory(tmp_path / "h.json", keep=2)
    assert history.load() == []
    for n in range(3):
        history.append({"title": {"a": n}}, history.load())
    assert history.load() == [{"title": {"a": 1}}, {"title": {"a": 2}}]
    (tmp_path / "h.json").write_text('[{"title": {"a": 1}}, {"title": 3}, {"title": {"a": "x"}}, 7]', "utf-8")
    assert history.load() == [{"title": {"a": 1}}]  # foreign entries are skipped
    (tmp_path / "h.json").write_text("{not json", "utf-8")
    assert history.load() == []


def test_redis_history_is_shared_newest_last(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    history = RedisHistory(client, lambda fn, *a: fn(*a), "t:politics:extraction", keep=2)
    for n in range(3):
        history.append({"title": {"a": n}}, history.load())
    assert history.load() == [{"title": {"a": 1}}, {"title": {"a": 2}}]
    client.lpush("t:politics:extraction", b"garbage")  # a damaged entry is skipped, not fatal
    assert history.load() == [{"title": {"a": 2}}]


@pytest.fixture
def drifting_replica():
    replica = start_replica("--articles", "40", "--seed", "5", "--no-faults")
    yield replica
    stop_replica(replica)


def _report(tmp_path) -> dict:
    return json.loads((tmp_path / "items.jsonl.report.json").read_text("utf-8"))


def test_a_markup_change_between_two_runs_is_seen(drifting_replica, tmp_path):
    replica = drifting_replica
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3")}
    first = run_crawl(replica, tmp_path / "run1", settings=store)
    assert first.returncode == 0
    assert _report(tmp_path / "run1")["verdict"] == "ok"
    assert _report(tmp_path / "run1")["extraction"]["source"]["a"] > 20

    # gmw.cn renames the source's container of the current template; 25 new articles come out
    replica.get("/__replica__/markup?" + urllib.parse.urlencode({"old": 'class="m-con-source"', "new": 'class="m-con-origin"'}))
    replica.get("/__replica__/publish?count=25")
    second = run_crawl(replica, tmp_path / "run2", settings=store)
    report = _report(tmp_path / "run2")
    assert second.returncode == 1
    assert report["verdict"] == "drift"
    # the 来源： label still names it: read by the generic route, and that is the drift
    assert [(d["field"], d["path"]) for d in report["drift"]] == [("source", "generic")]
    assert "source read by the generic route" in report["message"]
    drift_lines = [line for line in second.log.splitlines() if "extraction drift" in line]
    assert len(drift_lines) == 1 and "ERROR" in drift_lines[0]
    assert report["drift"][0]["share"] > 0.5 and report["drift"][0]["baseline"] == 0
    assert len(second.items) == 25  # drift judges the run; it loses nothing

    # GMW_FAIL_ON_DRIFT=0: the same verdict and ERROR line, exit status 0
    replica.get("/__replica__/publish?count=25")
    third = run_crawl(replica, tmp_path / "run3", settings={**store, "GMW_FAIL_ON_DRIFT": "0"})
    assert third.returncode == 0
    assert _report(tmp_path / "run3")["verdict"] == "drift"
    assert "GMW_FAIL_ON_DRIFT is off" in third.log


def test_a_redesign_between_two_runs_stores_every_article_marked(drifting_replica, tmp_path, own_postgres_dsn):
    """gmw.cn renames every class and id (tests/redesign.py) between two runs: the new articles are all
    stored, in the table and the feed, with their fields right, marked `generic`; the drift verdict names
    the generic route, and the run exits 1 so that someone writes the template."""
    import psycopg

    replica = drifting_replica
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3"), "GMW_STATE_DIR": str(tmp_path),
             "GMW_POSTGRES_DSN": own_postgres_dsn, "GMW_EXTRACT_CHECK_EVERY": "1"}
    first = run_crawl(replica, tmp_path / "run1", settings=store)
    assert first.returncode == 0, first.log[-2000:]
    assert all(item["generic_fields"] == [] for item in first.items)
    assert first.stats["gmw/extract_check/pages"] >= len(first.items)  # every page checked: no disagreement
    assert not [k for k in first.stats if k.endswith("/disagree")]

    replica.get("/__replica__/redesign?transform=rename_both")
    urls = set(json.loads(replica.get("/__replica__/publish?count=25")))
    second = run_crawl(replica, tmp_path / "run2", settings=store)
    report = _report(tmp_path / "run2")
    assert second.returncode == 1
    assert report["verdict"] == "drift"
    assert {"content", "source"} <= {d["field"] for d in report["drift"] if d["path"] == "generic"}
    assert "content read by the generic route" in report["message"]

    truth = replica.truth()
    assert {item["url"] for item in second.items} == urls
    for item in second.items:
        expected = truth[item["url"]]
        assert "content" in item["generic_fields"] and item["provenance"]["content"] == "generic"
        assert item["content"].split("\n") == expected["content"]
        assert (item["title"], item["publish_time"]) == (expected["title"], expected["publish_time"])
        assert (item["source"] or "") in (expected["source"], "")  # variant B prints it with no 来源： label: lost, not wrong
        assert (item["editor"] or "") == expected["editor"]
    with psycopg.connect(own_postgres_dsn) as conn:
        rows = dict(conn.execute("SELECT url, generic_fields FROM gmw_articles").fetchall())
    assert {url for url, generic in rows.items() if "content" in generic} == urls
    assert len(rows) == len(first.items) + 25
