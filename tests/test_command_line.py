"""The command line a user types: `scrapy list`, `scrapy check`, bad arguments."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PYTHON, ROOT


def scrapy(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "scrapy", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_scrapy_list():
    done = scrapy("list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["politics"]


def test_scrapy_check_contracts_pass_against_the_replica(replica):
    done = scrapy("check", "politics", env=replica.env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK" in done.stderr


@pytest.mark.parametrize(
    ("argument", "name"),
    [
        ("max_list_pages=ten", "max_list_pages"),
        ("max_list_pages=-1", "max_list_pages"),
        ("since=2026-13-01", "since"),
        ("since=yesterday", "since"),
        ("follow_related=maybe", "follow_related"),
        ("related_depth=x", "related_depth"),
        ("start_urls=ftp://politics.gmw.cn/node_9840.htm", "start_urls"),
        ("start_urls=https://example.com/node_1.htm", "start_urls"),
        ("allowed_domains=https://gmw.cn/", "allowed_domains"),
    ],
)
@pytest.mark.slow
def test_bad_argument_fails_at_start_with_one_line(argument, name, tmp_path):
    done = scrapy("crawl", "politics", "-a", argument, "-O", str(tmp_path / "out.jsonl"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"invalid spider argument {name}=" in errors[0], done.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_scrapy_crawl_is_scrapys_own_command_with_checks_around_it():
    """Issue #16: no copy of Scrapy's command body to drift from upstream. If Scrapy stops making its
    crawler through _create_crawler(), the run's verdict would no longer set the exit status: this fails."""
    import ast
    import inspect

    from scrapy.commands.crawl import Command as ScrapyCrawlCommand

    from gmwcrawler.commands.crawl import Command

    source = ast.parse(inspect.getsource(Command))
    called = {ast.unparse(node.func) for node in ast.walk(source) if isinstance(node, ast.Call)}
    assert "super().run" in called
    assert not {c for c in called if c.endswith((".start", ".crawl", "crawler_process.crawl"))}, called
    assert "self._create_crawler(" in inspect.getsource(ScrapyCrawlCommand.run)
