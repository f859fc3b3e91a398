"""`scrapy gmwrun`: what a timer calls every 15 minutes.

1. checks every scrapyd node in GMW_SCRAPYD_NODES answers (credentials: SCRAPYD_USERNAME /
   SCRAPYD_PASSWORD); a node down → exit 1 naming it, nothing seeded or scheduled;
2. in distributed mode (GMW_REDIS_URL), seeds a new run — unless one is still in progress,
   then it does nothing and exits 0 (a slow run is not doubled by the next tick);
3. schedules one `politics` job per node through schedule.json, with the spider arguments
   given as -a name=value.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.conf import arglist_to_dict

from gmwcrawler import defaults
from gmwcrawler.redact import mask_url


class NodeError(Exception):
    pass


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012 - Scrapy's own attribute name and shape

    def syntax(self) -> str:
        return "[--nodes URL,URL] [-a name=value ...] [--job-setting NAME=VALUE ...]"

    def short_desc(self) -> str:
        return "Seed a run and schedule one crawl job per scrapyd node (for a timer)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--nodes", help="comma-separated scrapyd URLs (default: GMW_SCRAPYD_NODES)")
        parser.add_argument("--project", default="gmwcrawler")
        parser.add_argument("--spider", default="politics")
        parser.add_argument("-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
                            help="spider argument passed to every job")
        parser.add_argument("--job-setting", dest="job_settings", action="append", default=[], metavar="NAME=VALUE",
                            help="Scrapy setting for every job (schedule.json's `setting`)")
        parser.add_argument("--timeout", type=float, default=10.0)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        # imported here, for start-up cost: Scrapy imports every command on every `scrapy …` call, and these are
        # 140 ms of imports (redis-py, numpy for identity; `python -X importtime`)
        from gmwcrawler.distributed.connection import RedisUnavailable, client, ping
        from gmwcrawler.distributed.keys import Keys
        from gmwcrawler.distributed.run import seed
        assert self.settings is not None
        nodes = [n.strip().rstrip("/") for n in (opts.nodes or defaults.get(self.settings, "GMW_SCRAPYD_NODES")).split(",")
                 if n.strip()]
        if not nodes:
            raise UsageError("no scrapyd node: set GMW_SCRAPYD_NODES or pass --nodes", print_help=False)
        try:
            spargs = arglist_to_dict(opts.spargs)
        except ValueError:
            raise UsageError("invalid -a value, use -a NAME=VALUE", print_help=False) from None
        for setting in opts.job_settings:
            name, _, value = setting.partition("=")
            if name.strip() in defaults.SECRETS or mask_url(value) != value:
                raise UsageError(f"--job-setting {name.strip()}: scrapyd would put its value on the job's command line,"
                                 " which `ps` shows to every user of the host; set it in scrapyd's environment instead"
                                 " (deploy/README.md)", print_help=False)
        auth = _auth_header()
        try:
            for node in nodes:
                _call(node, "daemonstatus.json", None, auth, opts.timeout)
        except NodeError as exc:
            self._fail(str(exc))
            return
        redis_url = defaults.redis_url(self.settings)
        if redis_url:
            try:
                ping(redis_url, self.settings)
            except RedisUnavailable as exc:
                self._fail(str(exc))
                return
            keys = Keys.of(self.settings, opts.spider)
            created, run_id = seed(client(redis_url, self.settings), keys)
            if not created:
                print(f"run {run_id} is still in progress; nothing scheduled")
                return
            print(f"seeded run {run_id}")
        elif len(nodes) > 1:
            # without Redis every node has its own seen-store (its state directory)
            print(f"gmwrun: warning: no GMW_REDIS_URL: each of the {len(nodes)} nodes keeps its own seen-store and"
                  " crawls the whole channel by itself; set GMW_REDIS_URL for one shared crawl", file=sys.stderr)
        for node in nodes:
            try:
                form = [("project", opts.project), ("spider", opts.spider), *spargs.items(),
                        *(("setting", s) for s in opts.job_settings)]
                answer = _call(node, "schedule.json", form, auth, opts.timeout)
            except NodeError as exc:
                self._fail(str(exc))
                return
            print(f"scheduled job {answer.get('jobid')} on {node}")

    def _fail(self, message: str) -> None:
        print(f"gmwrun: error: {message}", file=sys.stderr)
        self.exitcode = 1


def _auth_header() -> str | None:
    user, password = os.environ.get("SCRAPYD_USERNAME"), os.environ.get("SCRAPYD_PASSWORD")
    if not user:
        return None
    return "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()


def _call(node: str, endpoint: str, form: list[tuple[str, str]] | None, auth: str | None, timeout: float) -> dict:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(f"{node}/{endpoint}", data=data)
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise NodeError(f"scrapyd node {mask_url(node)} answered HTTP {exc.code} to {endpoint}"
                        + (" (check SCRAPYD_USERNAME / SCRAPYD_PASSWORD)" if exc.code == 401 else "")) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NodeError(f"scrapyd node {mask_url(node)} is down or unreachable: {reason}") from None
    if answer.get("status") != "ok":
        raise NodeError(f"scrapyd node {mask_url(node)} refused {endpoint}: {answer.get('message', answer)}")
    return answer
