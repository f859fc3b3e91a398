"""Each run check alone (gmwcrawler.health.checks): the stat it reads, its threshold setting, its verdict;
then the order in which the report asks them."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from gmwcrawler import defaults
from gmwcrawler.health import checks
from gmwcrawler.health.checks import CHECKS, DRIFT, Run
from gmwcrawler.health.drift import Drift

SEEN = {"gmw/article/items": 3, "response_received_count": 20}


def run(stats: dict | None = None, reason: str = "finished", **kwargs) -> Run:
    settings = Settings(kwargs.pop("settings", {}))
    return Run(SEEN if stats is None else stats, reason, settings, **kwargs)


def check(name: str) -> checks.Check:
    (found,) = [c for c in CHECKS if c.name == name]
    return found


def test_every_check_names_what_it_reads_and_its_setting():
    assert len({c.name for c in CHECKS}) == len(CHECKS)
    for c in (*CHECKS, DRIFT):
        assert c.reads
        assert c.setting is None or c.setting in defaults.SETTINGS


def test_running():
    assert check("running").message(run(reason="running")) == "the run is in progress"
    assert check("running").message(run()) is None


def test_a_distributed_run_already_finished_is_ok():
    c = check("already_finished")
    assert c.message(run(reason="run_already_finished")).startswith("the distributed run was already finished")
    assert c.message(run()) is None


def test_watch_mode_ended_by_a_signal_is_ok():
    c = check("watch_ended")
    assert c.message(run(reason="shutdown", watch_ended=True)) == "watch mode ended by a signal"
    assert c.message(run(reason="shutdown")) is None


@pytest.mark.parametrize(("reason", "applies"), [("shutdown", True), ("closespider_timeout", True), ("finished", False)])
def test_not_finished(reason, applies):
    assert (check("not_finished").message(run(reason=reason)) is not None) is applies


def test_no_articles_reads_stored_and_skipped_articles():
    c = check("no_articles")
    assert c.message(run({"response_received_count": 6})) is not None
    assert c.message(run({"gmw/incremental/skipped_stored": 1})) is None
    # a worker of a distributed run whose listings' articles other workers took
    assert c.message(run({"response_received_count": 6, "gmw/listing/article_links": 9}, distributed=True)) is None
    assert c.message(run({}, distributed=True)) is None  # a worker that got no work


def test_unreachable_names_the_network_failures():
    stats = {"gmw/listing/failed/DNSLookupError": 6}
    assert "every listing page failed on the network (DNSLookupError × 6)" in check("unreachable").message(run(stats))
    assert check("unreachable").message(run({"gmw/listing/failed/http_404": 6})) is None  # not the network
    assert check("unreachable").message(run({**stats, "gmw/article/items": 1})) is None  # articles were seen


def test_unreachable_robots_txt():
    stats = {"gmw/listing/failed/robots_unavailable": 6, "gmw/robots/politics.gmw.cn": "503"}
    assert check("unreachable").message(run(stats)).startswith("robots.txt could not be read (politics.gmw.cn 503)")


def test_error_rate_reads_failures_against_its_setting():
    c = check("error_rate")
    assert c.setting == "GMW_MAX_ERROR_RATE"
    failing = {**SEEN, "gmw/article/failed/http_500": 10}  # 10 of 30
    assert c.message(run(failing)) == "33% of requests failed (GMW_MAX_ERROR_RATE=20%)"
    assert c.message(run(failing, settings={"GMW_MAX_ERROR_RATE": "0.5"})) is None
    # below GMW_ERROR_RATE_MIN_REQUESTS requests, a rate says nothing
    assert c.message(run({"gmw/article/items": 1, "response_received_count": 2, "gmw/article/failed/http_500": 2})) is None


def test_backlog():
    assert "2 promised request(s) were not asked" in check("backlog").message(run({**SEEN, "gmw/backlog/not_attempted": 2}))
    assert check("backlog").message(run()) is None


def test_drift_names_the_field_and_path():
    found = (Drift(field="source", path="missing", share=0.8, baseline=0.0, articles=25, baseline_articles=40),)
    message = DRIFT.message(run(drift=found))
    assert message.startswith("extraction drift (markup changed?): source")
    assert DRIFT.message(run()) is None and DRIFT.setting == "GMW_DRIFT_THRESHOLD"


def test_the_first_check_that_applies_gives_the_verdict():
    assert checks.verdict(run()) == ("ok", "")
    assert checks.verdict(run({}, reason="shutdown"))[0] == "not_finished"  # before no_articles
    assert checks.verdict(run({"gmw/listing/failed/DNSLookupError": 6}))[0] == "unreachable"  # before no_articles
    both = {**SEEN, "gmw/article/failed/http_500": 10, "gmw/backlog/not_attempted": 2}
    assert checks.verdict(run(both))[0] == "error_rate"  # before backlog
