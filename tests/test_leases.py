"""When a lease is acknowledged, on Scrapy's public extension points (issue #15).

The tracker is driven here the way Scrapy drives it: output iterated where it leaves the spider
middlewares (or the errback), items coming back through the item signals, requests through
request_scheduled. Each case says what must still hold the lease.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from packaging.requirements import Requirement
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from twisted.python.failure import Failure

from gmwcrawler.distributed.addon import DistributedMode
from gmwcrawler.distributed.leases import (
    LEASE_META,
    OLDEST_SCRAPY,
    PARENT_META,
    LeaseTracker,
    UnsafeWorker,
    check_worker,
    spider_errback,
)
from gmwcrawler.settings import __name__ as settings_module
from tests.conftest import PYTHON, ROOT, free_port

ENTRY = "e1"


def leased(url: str = "https://politics.gmw.cn/a.htm", errback=None) -> Request:
    return Request(url, meta={LEASE_META: ENTRY}, errback=errback)


def response_of(request: Request) -> HtmlResponse:
    return HtmlResponse(request.url, body=b"<html></html>", request=request)


def failure_of(request: Request) -> Failure:
    failure = Failure(ConnectionRefusedError("refused"))
    failure.request = request  # what Scrapy sets before it calls the errback
    return failure


async def _aiter(values):
    for value in values:
        yield value


def drain(output) -> list:
    async def run():
        return [x async for x in output]

    return asyncio.run(run())


@pytest.fixture
def tracker():
    acked: list[str] = []
    t = LeaseTracker(acked.append)
    t.begin(ENTRY)
    t.acked = acked
    return t


def test_a_lease_waits_for_its_items_to_leave_the_pipelines(tracker):
    request = leased()
    out = drain(tracker.count_output(ENTRY, _aiter([{"a": 1}, {"b": 2}]), spider_middleware=True))
    assert len(out) == 2
    assert tracker.acked == []  # callback done, both items still in the pipelines
    tracker.item_left(response_of(request))
    assert tracker.acked == []
    tracker.item_left(response_of(request))
    assert tracker.acked == [ENTRY]


def test_a_lease_waits_for_its_requests_to_reach_the_scheduler(tracker):
    child = Request("https://politics.gmw.cn/b.htm")
    drain(tracker.count_output(ENTRY, _aiter([child]), spider_middleware=True))
    assert child.meta[PARENT_META] == ENTRY
    assert tracker.acked == []  # still in the scraper's queue: not in the outbox yet
    tracker.child_scheduled(child)
    assert PARENT_META not in child.meta  # not stored in Redis with the request
    assert tracker.acked == [ENTRY]


def test_a_lease_waits_for_its_callback_to_end(tracker):
    request = leased()

    async def run():
        output = tracker.count_output(ENTRY, _aiter([{"a": 1}, {"b": 2}]), spider_middleware=True)
        await output.__anext__()
        tracker.item_left(response_of(request))  # the first item is through before the callback ends
        assert tracker.acked == []
        async for _ in output:
            pass

    asyncio.run(run())
    assert tracker.acked == []
    tracker.item_left(response_of(request))
    assert tracker.acked == [ENTRY]


def test_output_closed_before_its_end_keeps_the_lease(tracker):
    """The spider closes mid-callback: the rest of the output never comes, so the lease goes back."""

    async def run():
        output = tracker.count_output(ENTRY, _aiter([Request("https://politics.gmw.cn/b.htm"), {"a": 1}]),
                                      spider_middleware=True)
        child = await output.__anext__()
        tracker.child_scheduled(child)
        await output.aclose()

    asyncio.run(run())
    assert tracker.acked == []
    assert ENTRY in tracker.open


def test_a_copy_of_the_leased_request_is_a_new_request_not_its_retry(tracker):
    request = leased()
    copy = request.replace(url="https://politics.gmw.cn/a_2.htm")
    drain(tracker.count_output(ENTRY, _aiter([copy]), spider_middleware=True))
    assert LEASE_META not in copy.meta
    assert copy.meta[PARENT_META] == ENTRY


def test_an_exception_in_the_callback_ends_its_output(tracker):
    def boom():
        yield {"a": 1}
        raise ValueError("bad page")

    async def run():
        async def output():
            for x in boom():
                yield x

        with pytest.raises(ValueError, match="bad page"):
            async for _ in tracker.count_output(ENTRY, output(), spider_middleware=True):
                pass

    asyncio.run(run())
    request = leased()
    tracker.output_failed(response_of(request))  # spider_error
    assert tracker.acked == []  # the item yielded before the exception is still in the pipelines
    tracker.item_left(response_of(request))
    assert tracker.acked == [ENTRY]


def test_spider_error_before_any_output(tracker):
    tracker.output_failed(response_of(leased()))
    assert tracker.acked == [ENTRY]


def test_a_download_failure_counts_the_errback_output(tracker):
    child = Request("https://politics.gmw.cn/related.htm")

    def spider_errback_(failure):
        yield {"partial": True}
        yield child

    request = leased(errback=spider_errback_)
    request.errback = tracker.errback_for(ENTRY, request.errback)
    failure = failure_of(request)
    out = drain(request.errback(failure))  # as Scrapy calls it: no spider middleware in between
    assert len(out) == 2
    assert tracker.acked == []
    tracker.item_left(failure)  # item signals carry the failure as "response"
    tracker.child_scheduled(child)
    assert tracker.acked == [ENTRY]


def test_no_errback_raises_the_failure_as_scrapy_does_and_ends_the_lease(tracker):
    request = leased()
    request.errback = tracker.errback_for(ENTRY, None)
    failure = failure_of(request)
    with pytest.raises(ConnectionRefusedError):
        request.errback(failure)
    assert tracker.acked == [ENTRY]


def test_an_errback_inside_the_spider_middlewares_is_counted_once(tracker):
    """An HttpError: Scrapy calls the errback from the spider middlewares, whose output LeaseMiddleware
    counts; the errback wrapper stands aside."""
    request = leased(errback=lambda failure: [{"partial": True}])
    request.errback = tracker.errback_for(ENTRY, request.errback)
    inner = request.errback(failure_of(request))
    out = drain(tracker.count_output(ENTRY, inner, spider_middleware=True))
    assert out == [{"partial": True}]
    assert tracker.acked == []
    tracker.item_left(response_of(request))
    assert tracker.acked == [ENTRY]


def test_signals_of_other_requests_change_nothing(tracker):
    drain(tracker.count_output(ENTRY, _aiter([{"a": 1}]), spider_middleware=True))
    tracker.item_left(response_of(Request("https://politics.gmw.cn/x.htm")))  # no lease
    tracker.item_left(None)  # an item from start(): no response
    tracker.child_scheduled(Request("https://politics.gmw.cn/y.htm"))
    assert tracker.acked == []


def test_the_queue_stores_the_spiders_errback_not_the_wrapper():
    def errback(failure):
        return None

    request = leased(errback=errback)
    request.errback = LeaseTracker(list.append).errback_for(ENTRY, request.errback)
    assert spider_errback(request) is errback
    assert spider_errback(Request("https://politics.gmw.cn/a.htm")) is None


# -- start-up checks ------------------------------------------------------------------------------
def distributed_settings(**values) -> Settings:
    settings = Settings()
    settings.setmodule(settings_module)
    settings.setdict({"GMW_REDIS_URL": "redis://127.0.0.1:1/0", **values}, priority="cmdline")
    DistributedMode().update_settings(settings)
    return settings


def test_the_project_settings_are_safe_for_leases():
    check_worker(distributed_settings())


class QuietMiddleware:
    async def process_spider_output(self, response, result):
        async for out in result:
            yield out


def test_a_middleware_outside_the_lease_middleware_is_refused():
    settings = distributed_settings(SPIDER_MIDDLEWARES={f"{__name__}.QuietMiddleware": -10})
    with pytest.raises(UnsafeWorker, match="first spider middleware.*QuietMiddleware first"):
        check_worker(settings)


def test_a_scrapy_older_than_the_public_scheduler_is_refused():
    with pytest.raises(UnsafeWorker, match="needs Scrapy 2.19 or newer; this is Scrapy 2.18.0"):
        check_worker(distributed_settings(), scrapy_version="2.18.0")


class RecoveringMiddleware:
    def process_spider_exception(self, response, exception):
        return [Request("https://politics.gmw.cn/elsewhere.htm")]


def test_a_middleware_that_turns_exceptions_into_output_is_refused():
    settings = distributed_settings(SPIDER_MIDDLEWARES={f"{__name__}.RecoveringMiddleware": 500})
    with pytest.raises(UnsafeWorker, match="RecoveringMiddleware handles exceptions"):
        check_worker(settings)


# -- Scrapy's internals stay out (issue #15) -----------------------------------------------------
def private_scrapy_uses(source: str) -> list[str]:
    """Imports of `_` names from scrapy, and `_` attributes read off the engine, scraper or their slots."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scrapy"):
            found += [f"import {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            if any(part.startswith("_") for part in (node.module or "").split(".")):
                found.append(f"import {node.module}")
        if isinstance(node, ast.Attribute):
            chain = ast.unparse(node)
            if any(name in chain for name in ("engine.", "scraper.", "downloader.", "slot.")) and node.attr.startswith("_"):
                found.append(chain)
            if node.attr in ("slot", "_slot") and "engine" in chain:
                found.append(chain)
    return found


def test_no_scrapy_internals_in_the_crawler():
    uses = {str(path.relative_to(ROOT)): private_scrapy_uses(path.read_text())
            for path in (ROOT / "gmwcrawler").rglob("*.py")}
    assert {path: found for path, found in uses.items() if found} == {}


def test_the_internals_check_finds_what_the_old_code_did():
    old = ("from scrapy.utils.defer import _schedule_coro\n"
           "scheduler = self.crawler.engine._slot.scheduler\n"
           "slot = self.crawler.engine.scraper.slot\n"
           "engine._schedule_request = f\n")
    assert len(private_scrapy_uses(old)) >= 4



# -- a whole worker, every path a response can take -------------------------------------------------
class ProbeSite(BaseHTTPRequestHandler):
    PAGES = ("/p/1", "/p/2", "/p/3", "/boom", "/missing", "/moved")

    def do_GET(self):
        if self.path == "/list":
            self._send(200, "".join(f'<a href="{p}">{p}</a>' for p in self.PAGES))
        elif self.path == "/missing":
            self._send(404, "gone")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/p/moved-here")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(200, f"<p>{self.path}</p>")

    def _send(self, status: int, body: str) -> None:
        data = f"<html><body>{body}</body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ProbeSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("reactor", [
    "twisted.internet.asyncioreactor.AsyncioSelectorReactor",  # Scrapy's default
    # Twisted's own reactor, which a user may choose: the scraper iterates output with a Cooperator
    "twisted.internet.epollreactor.EPollReactor",
])
def test_a_worker_acknowledges_no_lease_early(probe_site, redis_server, tmp_path, reactor):
    """Items still in the pipelines and requests not yet sent hold their lease, on every path;
    and every lease is acknowledged in the end (nothing left leased or queued)."""
    stats_file, out = tmp_path / "stats.json", tmp_path / "items.jsonl"
    namespace = "probe"
    command = [PYTHON, "-m", "scrapy", "runspider", "tests/lease_probe.py", "-O", str(out),
               "-a", f"base={probe_site}", "-a", f"dead=http://127.0.0.1:{free_port()}",
               "-s", f"GMW_REDIS_URL={redis_server.url}", "-s", f"GMW_REDIS_NAMESPACE={namespace}",
               "-s", f"GMW_STATS_FILE={stats_file}", "-s", "GMW_IDLE_TIMEOUT=1", "-s", "GMW_GLOBAL_RATE=0",
               "-s", "GMW_SEEN_STORE=memory", "-s", "LOG_LEVEL=INFO", "-s", f"TWISTED_REACTOR={reactor}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(stats_file.read_text())
    items = [json.loads(line) for line in out.read_text().splitlines()]
    urls = sorted(i["url"].split("/", 3)[-1] for i in items)
    assert urls == sorted(["p/1", "p/2", "p/3", "p/1/c", "p/2/c", "p/3/c", "boom", "missing", "p/moved-here",
                           "p/moved-here/c", "dead", "p/after-dead", "p/after-dead/c"])
    assert stats["probe/items"] == len(items)
    assert stats.get("probe/unheld_in_pipeline", 0) == 0
    assert stats.get("probe/ack_before_children", 0) == 0
    # list, 6 pages, their 4 children, the redirect's target, dead (retried once), after-dead and its child
    assert stats["probe/acks"] >= 15
    assert stats["spider_exceptions/ValueError"] == 1
    import redis as redis_py

    client = redis_py.Redis.from_url(redis_server.url)
    assert client.zcard(f"{namespace}:lease_probe:requests") == 0
    assert client.zcard(f"{namespace}:lease_probe:requests:leases") == 0
    client.close()


# -- Scrapy as a supported range (issue #15) ------------------------------------------------------
def declared_ranges() -> dict[str, str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    (requires,) = [node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "REQUIRES"]
    return {Requirement(r).name: r for r in ast.literal_eval(requires)}


def test_the_pinned_set_lies_in_the_declared_ranges():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            pins[requirement.name] = next(iter(requirement.specifier)).version
    ranges = declared_ranges()
    for name in ("scrapy", "scrapy-redis", "redis", "itemloaders", "w3lib"):
        assert name in ranges, f"setup.py declares no range for {name}"
    outside = {name: (pins[name], r) for name, r in ranges.items()
               if not Requirement(r).specifier.contains(pins[name])}
    assert outside == {}
    assert Requirement(ranges["scrapy"]).specifier.contains(OLDEST_SCRAPY + ".0")


@pytest.mark.slow
def test_scrapy_crawl_refuses_an_unsafe_worker_in_one_line_before_fetching(tmp_path):
    middlewares = json.dumps({f"{__name__}.RecoveringMiddleware": 500})
    done = subprocess.run([PYTHON, "-m", "scrapy", "crawl", "politics", "-s", "GMW_REDIS_URL=redis://127.0.0.1:1/0",
                           "-s", f"SPIDER_MIDDLEWARES={middlewares}", "-s", f"GMW_STATE_DIR={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "RecoveringMiddleware handles exceptions" in errors[0]
    assert "Traceback" not in done.stderr and "Spider opened" not in done.stderr


# -- fenced leases and a SYNC that is safe to repeat ---------------------------------------------------------
def shared_queue(server_url: str, namespace: str, lease_ms: int = 60_000, socket_timeout: float | None = None):
    import json

    import redis

    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.queue import LeasedQueue

    client = redis.Redis.from_url(server_url, socket_timeout=socket_timeout)
    spider = Spider("politics")
    return LeasedQueue(client, spider, Keys(namespace, "politics"), json, lease_ms), client


def test_a_lease_handed_out_again_after_redis_lost_writes_is_not_the_old_holders(redis_server):
    """Redis loses its last writes (a crash with appendfsync everysec, a failover to a replica behind) and
    hands an entry id out again. Before, the worker still holding the old lease of that number deleted the
    new request with its acknowledgement, and kept it alive with its renewals."""
    from gmwcrawler.distributed.queue import Outgoing

    old_worker, client = shared_queue(redis_server.url, "rollback")
    new_worker, _ = shared_queue(redis_server.url, "rollback")
    old_worker.sync([Outgoing('{"n": 1}', 0, None, None)])
    [(old_lease, _)] = old_worker.sync(lease=1)[1]
    entry_id = old_lease.partition("@")[0]
    keys = old_worker.keys
    # what Redis forgot: the lease and the counter go back to before the entry was queued
    client.delete(keys.leases, keys.payloads, keys.tokens)
    client.decr(keys.sequence)
    new_worker.sync([Outgoing('{"n": 2}', 0, None, None)])
    [(new_lease, payload)] = new_worker.sync(lease=1)[1]
    assert new_lease.partition("@")[0] == entry_id and new_lease != old_lease and payload == b'{"n": 2}'
    assert old_worker.renew({old_lease}) == 0
    assert old_worker.requeue({old_lease}) == (0, 0)
    old_worker.sync(acks=[old_lease])
    assert client.hget(keys.payloads, entry_id) == b'{"n": 2}' and client.zscore(keys.leases, entry_id) is not None
    assert new_worker.renew({new_lease}) == 1
    new_worker.sync(acks=[new_lease])
    assert client.hget(keys.payloads, entry_id) is None and client.zcard(keys.leases) == 0


def test_a_worker_that_stalled_past_its_lease_cannot_touch_the_next_holders(redis_server):
    import time

    from gmwcrawler.distributed.queue import Outgoing

    stalled, client = shared_queue(redis_server.url, "stalled", lease_ms=200)
    other, _ = shared_queue(redis_server.url, "stalled", lease_ms=60_000)
    stalled.sync([Outgoing('{"n": 1}', 0, None, None)])
    [(first, _)] = stalled.sync(lease=1)[1]
    time.sleep(0.3)
    assert other.requeue() == (1, 0)  # expired: back in the queue (its attempt counted)
    [(second, _)] = other.sync(lease=1)[1]
    assert stalled.renew({first}) == 0 and stalled.requeue({first}) == (0, 0)
    stalled.sync(acks=[first])
    assert client.zcard(other.keys.leases) == 1 and client.hlen(other.keys.payloads) == 1
    other.sync(acks=[second])
    assert client.zcard(other.keys.leases) == 0 and client.hlen(other.keys.payloads) == 0


@pytest.mark.parametrize("step_ms", [
    600_000,  # the wall clock jumps 10 minutes ahead: the cluster's clock moves 30 s, the 60 s lease holds
    -600_000,  # it jumps back: the clock stands still, and goes on from there
])
def test_a_step_of_redis_wall_clock_expires_no_lease(redis_server, step_ms):
    """Redis's TIME is its host's wall clock. Before, a step forward expired every lease at once (and a step back
    made the rate bucket wait that long). A step is shown here as the clock's record of the last call moved
    the other way (scripts.NOW_MS)."""
    import time

    from gmwcrawler.distributed.queue import Outgoing

    queue, client = shared_queue(redis_server.url, f"step{step_ms}", lease_ms=60_000)
    queue.sync([Outgoing('{"n": 1}', 0, None, None)])
    [(lease, _)] = queue.sync(lease=1)[1]
    last = client.hgetall(queue.keys.clock)
    client.hset(queue.keys.clock, "raw", int(last[b"raw"]) - step_ms)
    assert queue.requeue() == (0, 0)
    now = int(client.hget(queue.keys.clock, "now"))
    assert now - int(last[b"now"]) <= 30_000 + 1_000  # at most the largest step the clock takes, plus this test's time
    time.sleep(0.05)
    assert queue.requeue() == (0, 0) and queue.renew({lease}) == 1


@pytest.mark.slow
def test_a_sync_whose_reply_was_lost_is_answered_from_its_record(tmp_path):
    """DEBUG SLEEP past the socket timeout: Redis applies SYNC, the reply is lost, the call is tried again.
    Before, a dont_filter request was queued twice and the first call's lease went to nobody until it
    expired."""
    import threading
    import time

    import redis

    from gmwcrawler.distributed.queue import Outgoing
    from tests.conftest import RedisServer, free_port, redis_binary

    server = RedisServer(redis_binary(), free_port(), tmp_path, args=("--enable-debug-command", "yes"))
    server.start()
    try:
        queue, client = shared_queue(server.url, "lost", socket_timeout=0.5)
        queue.sync([Outgoing('{"n": 0}', 5, None, None)])  # the script is loaded before the stall
        stall = threading.Thread(target=redis.Redis.from_url(server.url).execute_command, args=("DEBUG", "SLEEP", "0.7"))
        stall.start()
        time.sleep(0.1)
        queued, leased = queue.sync([Outgoing('{"n": 1}', 0, None, None)], lease=1, call="call-1")
        stall.join()
        assert len(queued) == 1 and queued[0] > 0 and [p for _, p in leased] == [b'{"n": 0}']
        assert client.zcard(queue.keys.queue) == 1 and client.hlen(queue.keys.payloads) == 2  # n=1 once
        assert client.zcard(queue.keys.leases) == 1  # the one lease, held by this worker
        # the scheduler's way after a pause: the same call again, by name, answered from the record
        assert queue.sync([Outgoing('{"n": 1}', 0, None, None)], lease=1, call="call-1") == (queued, leased)
        assert client.zcard(queue.keys.queue) == 1 and client.zcard(queue.keys.leases) == 1
        client.close()
    finally:
        server.stop()
