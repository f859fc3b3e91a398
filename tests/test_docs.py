"""Every command the README and docs/ show is run by a test: the README's own here, as a user types them
(against the replica, paths and the port moved to a temporary folder), the others by the test RUN_BY names.
A command added to the documentation without a test fails test_every_documented_command_is_run_by_a_test."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import redis
from scrapy.settings import Settings

from gmwcrawler.distributed.keys import Keys
from gmwcrawler.incremental.identity import identity_key
from tests.conftest import PYTHON, ROOT, free_port

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a command as the documents write it: in a shell block, or inline (`scrapy …`, `python -m …`)
_INLINE = re.compile(r"`((?:\.venv/bin/)?(?:(?:scrapy|python) |\./setup\.sh)[^`]*)`")

# documented command (without `.venv/bin/`) → the test that runs it
RUN_BY: list[tuple[str, str]] = [
    (r"\./setup\.sh$", ".ci/run"),
    (r"python -m pytest -n auto$", ".ci/run"),
    (r'python -m pytest -m "not slow"$', "tests/test_docs.py::test_the_documented_test_selections"),
    (r"python -m pytest -m budget( tests/test_fuzz\.py)?$", "tests/test_docs.py::test_the_documented_test_selections"),
    (r"python -m tests\.replica --port 8000 --articles 500 &$", "tests/test_docs.py::test_the_readme_quick_start"),
    (r"(https_proxy=\S+ http_proxy=\S+ )?scrapy crawl politics -O articles\.jsonl( -s AUTOTHROTTLE_ENABLED=0 -s DOWNLOAD_DELAY=0)?$",
     "tests/test_docs.py::test_the_readme_quick_start"),
    (r"scrapy crawl$", "tests/test_command_line.py::test_bad_argument_fails_at_start_with_one_line"),
    (r"scrapy list$", "tests/test_docs.py::test_scrapys_own_commands_as_the_readme_shows_them"),
    (r"export https_proxy=\S+ http_proxy=\S+$", "tests/test_docs.py::test_scrapys_own_commands_as_the_readme_shows_them"),
    (r"scrapy check politics$", "tests/test_docs.py::test_scrapys_own_commands_as_the_readme_shows_them"),
    (r"scrapy parse --spider politics -c parse_article \S+$",
     "tests/test_docs.py::test_scrapys_own_commands_as_the_readme_shows_them"),
    (r"scrapy shell -c .+ \S+$", "tests/test_docs.py::test_scrapys_own_commands_as_the_readme_shows_them"),
    (r"GMW_POSTGRES_DSN=\S+ scrapy crawl politics -O articles\.jsonl$", "tests/test_postgres.py::test_crawl_into_postgres"),
    (r"export GMW_REDIS_URL=\S+$", "tests/test_distributed.py::test_three_workers_store_every_article_once_and_exit"),
    (r"scrapy crawl politics -O articles-\$\(hostname\)\.jsonl$",
     "tests/test_distributed.py::test_three_workers_store_every_article_once_and_exit"),
    (r"scrapy gmw status( \[--json\])?$", "tests/test_distributed.py::test_finished_run_does_nothing_and_a_new_run_fetches_only_new"),
    (r"scrapy gmw seed( \[--force\])?$", "tests/test_distributed.py::test_finished_run_does_nothing_and_a_new_run_fetches_only_new"),
    (r"scrapy gmw reset( \[--everything\])?$", "tests/test_docs.py::test_scrapy_gmw_reset"),
    (r"scrapy gmw failed( \[--requeue\]| --requeue)?$",
     "tests/test_unreadable.py::test_unreadable_page_goes_to_the_dead_letter_list_and_back"),
    (r"scrapy gmw replay( \[FILE\])?$", "tests/test_postgres.py::test_the_fallback_file_is_complete_and_replayed_once"),
    (r"scrapy gmw history( ARTICLE_ID \[--from N --to M\])?$",
     "tests/test_revisits.py::test_young_articles_are_refreshed_on_schedule_and_corrections_become_versions"),
    (r"scrapy gmwrun$", "tests/test_ways_to_run.py::test_systemd_schedule_and_cron_gmwrun_with_scrapyd_and_redis"),
    (r"python -m gmwcrawler\.defaults$", "tests/test_defaults.py::test_the_settings_table_is_generated_from_the_defaults"),
    (r"python -m gmwcrawler\.items$", "tests/test_schema.py::test_python_m_gmwcrawler_items_prints_the_table"),
    (r"python -m bench$", "tests/test_bench.py::test_bench_command_produces_every_figure"),
    (r"python -m tests\.fixtures\.neardup$", "tests/test_docs.py::test_the_near_duplicate_table_command"),
]


def _lines(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments off."""
    joined = re.sub(r"\s*\\\n\s*", " ", block)
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def _shell_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) for line in _lines(block)]


def documented_commands() -> dict[str, str]:
    """Each command of the documents, as RUN_BY reads it → the document it is in."""
    found = {}
    for path in DOCUMENTS:
        text = path.read_text()
        for command in [*_shell_lines(text), *_INLINE.findall(text)]:
            if command.startswith("scrapy crawl:"):  # an error message the documents quote, not a command
                continue
            if "…" in command or "|" in command:  # an overview of subcommands (`scrapy gmw …`), each listed apart
                continue
            found[command.replace(".venv/bin/", "").strip()] = path.relative_to(ROOT).as_posix()
    return found


def _test_exists(where: str) -> bool:
    if where == ".ci/run":
        return True
    path, name = where.split("::")
    tree = ast.parse((ROOT / path).read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def test_every_documented_command_is_run_by_a_test():
    unmatched = [f"{doc}: {command}" for command, doc in documented_commands().items()
                 if not any(re.fullmatch(pattern, command) for pattern, _ in RUN_BY)]
    assert unmatched == []
    assert [where for _, where in RUN_BY if not _test_exists(where)] == []
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./setup.sh\n" in ci and "\n.venv/bin/python -m pytest -n auto\n" in ci


def _run(command: str, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _readme_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def _user_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell in the checkout, with the state directory moved out of it (tests run side by side)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")}
    env["GMW_STATE_DIR"] = str(tmp_path / "state")
    return env


@pytest.mark.slow
def test_the_readme_quick_start(tmp_path):
    """The README's two commands, as written but for the port and the feed's folder; and its example record
    is what that crawl gives for the real 2026-01-20 article."""
    (quick_start,) = [b for b in _readme_blocks() if "tests.replica" in b]
    port = str(free_port())
    start, crawl = _lines(quick_start.replace("8000", port))
    crawl = crawl.replace("-O articles.jsonl", f"-O {tmp_path}/articles.jsonl")
    env = _user_env(tmp_path)
    replica = subprocess.Popen(["bash", "-c", "exec " + start.removesuffix("&").strip()], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert replica.stdout.readline().strip() == f"http://127.0.0.1:{port}"  # as its comment says
        done = _run(crawl, env, ROOT)
    finally:
        replica.send_signal(signal.SIGINT)
        replica.wait(30)
        replica.stdout.close()
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "articles.jsonl").read_text().splitlines()]
    assert len(records) > 400
    example = json.loads(re.search(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1))
    (crawled,) = [r for r in records if r["article_id"] == example["article_id"]]
    assert set(crawled) == set(example)
    for name, value in example.items():
        if name in ("crawled_at", "first_listed_at"):
            continue
        if isinstance(value, str) and value.endswith("…"):  # shortened in the README
            assert crawled[name].startswith(value[:-1]), name
        else:
            assert crawled[name] == value, name
    assert identity_key(crawled["url"]) == "gmw:38547123"


@pytest.mark.slow
def test_scrapys_own_commands_as_the_readme_shows_them(replica, tmp_path):
    (block,) = [b for b in _readme_blocks() if "scrapy list" in b]
    env = _user_env(tmp_path)
    outputs = []
    for line in block.replace("http://127.0.0.1:8000", replica.base_url).splitlines():
        command = line.split("  #")[0].strip()
        if command.startswith("export "):
            for assignment in command.removeprefix("export ").split():
                name, value = assignment.split("=", 1)
                env[name] = value
            continue
        done = _run(command, env, ROOT)
        assert done.returncode == 0, (command, done.stderr[-3000:])
        outputs.append((command, done.stdout, done.stderr))
    by_name = {command.split()[1]: (out, err) for command, out, err in outputs}
    assert by_name["list"][0].split() == ["politics"]
    assert "OK" in by_name["check"][1]
    assert "'title': '视频丨货物贸易额首破千亿美元" in by_name["parse"][0]
    assert by_name["shell"][0].strip() == "视频丨货物贸易额首破千亿美元 中国中亚合作何以如此密切?记者观察"


@pytest.mark.slow
def test_the_documented_test_selections():
    """`pytest -m "not slow"` selects the inner loop, `pytest -m budget` the long fuzz run; collected only."""
    def collected(*args: str) -> list[str]:
        done = subprocess.run([PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-2000:]
        return [line for line in done.stdout.splitlines() if "::" in line]

    fast = collected("-m", "not slow")
    assert len(fast) > 500 and not any("test_docs.py::test_the_readme_quick_start" in t for t in fast)
    budget = collected("-m", "budget", "tests/test_fuzz.py")
    assert budget and all(t.startswith("tests/test_fuzz.py::") for t in budget)


@pytest.mark.slow
def test_the_near_duplicate_table_command():
    done = subprocess.run([PYTHON, "-m", "tests.fixtures.neardup"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "precision" in done.stdout.lower()


@pytest.mark.slow
def test_scrapy_gmw_reset(redis_server, tmp_path):
    """`reset` forgets the run (queue, leases, the run itself) and keeps what was stored; `--everything`
    forgets the stored articles too."""
    keys = Keys.of(Settings(), "politics")
    db = redis.Redis.from_url(redis_server.url)
    db.hset(keys.run, mapping={"id": "r1", "state": "running"})
    db.rpush(keys.queue, "x")
    db.set(keys.seen("id:gmw:1"), "1")
    db.rpush(keys.items, "{}")
    env = {**_user_env(tmp_path), "GMW_REDIS_URL": redis_server.url}

    def gmw(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "scrapy", "gmw", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    done = gmw("reset")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not db.exists(keys.run) and not db.exists(keys.queue)
    assert db.exists(keys.seen("id:gmw:1")) and db.exists(keys.items)
    done = gmw("reset", "--everything")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not db.exists(keys.seen("id:gmw:1")) and not db.exists(keys.items)
