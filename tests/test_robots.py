"""robots.txt as RFC 9309 says (gmwcrawler/politeness/robotstxt.py): what each answer means, how long it stands."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from gmwcrawler.politeness import robotstxt
from gmwcrawler.politeness.robotstxt import UNAVAILABLE, RobotsTxtMiddleware, answer_for
from gmwcrawler.spiders.politics import PoliticsSpider

RULES = b"User-agent: *\nDisallow: /private/\n"


@pytest.mark.parametrize(("status", "rules", "allow_all", "disallow_all", "stands"), [
    ("200", True, False, False, 3600),
    ("404", False, True, False, 3600),  # §2.3.1.3: unavailable, crawl as if there were none
    ("410", False, True, False, 3600),
    ("429", False, False, True, 60),  # too many requests: as a server error, asked again sooner
    ("500", False, False, True, 60),  # §2.3.1.4: unreachable, disallow everything
    ("503", False, False, True, 60),
    ("CannotResolveHostError", False, False, True, 60),
    ("DownloadTimeoutError", False, False, True, 60),
])
def test_each_answer_means_what_rfc_9309_says(status, rules, allow_all, disallow_all, stands):
    answer = answer_for(status, RULES, now=1000.0, cache=3600, retry=60)
    assert (answer.body is not None, answer.allow_all, answer.disallow_all, answer.until - 1000.0) == (
        rules, allow_all, disallow_all, stands)


class FakeEngine:
    """Answers robots.txt downloads from a list, and counts them."""

    def __init__(self, answers: list) -> None:
        self.answers, self.asked = answers, 0

    async def download_async(self, request: Request) -> Response:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return Response(request.url, status=status, body=body, request=request)


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(robotstxt.time, "time", lambda: now[0])
    return now


def middleware(answers: list, **settings) -> tuple[RobotsTxtMiddleware, FakeEngine]:
    crawler = get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory", "ROBOTSTXT_OBEY": True, **settings})
    engine = FakeEngine(answers)
    crawler.engine = engine
    return RobotsTxtMiddleware(crawler), engine


def fetch(mw: RobotsTxtMiddleware, path: str = "/2026-11/20/content_1.htm") -> str:
    try:
        asyncio.run(mw.process_request(Request(f"https://politics.gmw.cn{path}")))
    except IgnoreRequest as exc:
        return str(exc)
    return "allowed"


def test_a_server_error_disallows_everything_until_it_is_read_again(clock):
    mw, engine = middleware([(503, b"<html>Service Unavailable</html>"), (200, RULES)], GMW_ROBOTS_RETRY="300")
    assert fetch(mw).startswith(UNAVAILABLE) and "(503)" in fetch(mw)
    assert engine.asked == 1 and mw.stats.get_value("gmw/robots/politics.gmw.cn") == "503"
    clock[0] += 301
    assert fetch(mw) == "allowed" and fetch(mw, "/private/x.htm") == "Forbidden by robots.txt"
    assert engine.asked == 2


def test_no_answer_at_all_disallows_everything(clock):
    from scrapy.exceptions import CannotResolveHostError

    mw, _ = middleware([CannotResolveHostError("politics.gmw.cn")])
    assert "(CannotResolveHostError)" in fetch(mw)


def test_a_robots_txt_stands_at_most_a_day(clock):
    mw, engine = middleware([(200, RULES), (404, b"")])
    assert fetch(mw, "/private/x.htm") == "Forbidden by robots.txt"
    clock[0] += 86_399
    assert fetch(mw, "/private/x.htm") == "Forbidden by robots.txt" and engine.asked == 1
    clock[0] += 2
    assert fetch(mw, "/private/x.htm") == "allowed" and engine.asked == 2  # read again: now a 404, allow all


def test_a_cache_longer_than_a_day_is_refused_at_start():
    from scrapy.settings import Settings

    from gmwcrawler import defaults

    with pytest.raises(ValueError, match="GMW_ROBOTS_CACHE='172800': expected a number from 0 to 86400"):
        defaults.check_numbers(Settings({"GMW_ROBOTS_CACHE": "172800"}))


@pytest.mark.slow
def test_a_robots_txt_that_answers_503_fetches_nothing_and_says_why(tmp_path):
    """Counted in the replica's own request log: nothing but robots.txt is asked; the verdict names the
    host and the status; the listings stay promised (transient: the next run asks again)."""
    import json

    from tests.conftest import run_crawl, start_replica, stop_replica

    replica = start_replica("--articles", "20", "--seed", "3", "--no-faults")
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "s.db"), "GMW_STATE_DIR": str(tmp_path)}
    try:
        replica.get("/__replica__/robots?status=503")
        result = run_crawl(replica, tmp_path / "closed", settings=store)
        replica.get("/__replica__/robots?status=200")
        again = run_crawl(replica, tmp_path / "open", settings=store)
    finally:
        stop_replica(replica)
    report = json.loads((tmp_path / "closed" / "items.jsonl.report.json").read_text("utf-8"))
    assert result.returncode == 1
    assert report["verdict"] == "unreachable"
    assert report["message"].startswith("robots.txt could not be read (politics.gmw.cn 503)")
    assert result.hits and all(url.endswith("/robots.txt") for url in result.hits)
    assert result.items == []
    # nothing was marked failed for good: once robots.txt can be read, the next run fetches the channel
    assert again.returncode == 0 and len(again.items) >= 20
