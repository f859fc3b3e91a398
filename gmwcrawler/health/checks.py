"""The run's verdict, as small named checks (in the manner of Spidermon's monitors): each names the verdict it
gives, the stat it reads and its threshold setting, and is tested alone (tests/test_checks.py). The report
(gmwcrawler.health.report) asks them in order; the first that applies gives the verdict, none gives "ok".
Markup drift is the last check: it needs the earlier runs' extraction paths (gmwcrawler.health.drift), so
the report asks it at the close of a finished run whose verdict is still "ok".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scrapy.settings import BaseSettings

from gmwcrawler import defaults

from .drift import Drift


@dataclass(frozen=True)
class Run:
    """What the checks read: the run's stats, why it ended, and how it ran."""

    stats: Mapping[str, Any]
    reason: str  # Scrapy's finish reason ("finished", "shutdown", …), or "running" for a progress report
    settings: BaseSettings
    distributed: bool = False
    watch_ended: bool = False  # a watch-mode run ended by a signal: its normal end
    drift: tuple[Drift, ...] = ()  # fields whose extraction path drifted from the earlier runs' (drift.judge)

    def sum_of(self, prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(self.stats.items()) if k.startswith(prefix)}

    @cached_property
    def failed(self) -> dict[str, int]:
        """Requests that failed for good, by kind and reason."""
        return {**{f"article/{k}": v for k, v in self.sum_of("gmw/article/failed/").items()},
                **{f"listing/{k}": v for k, v in self.sum_of("gmw/listing/failed/").items()},
                **{f"article/extract_error/{k}": v for k, v in self.sum_of("gmw/article/extract_error/").items()}}

    @property
    def pages(self) -> int:
        return self.stats.get("response_received_count", 0)

    @property
    def articles_seen(self) -> int:
        """Articles stored, or skipped as stored by an earlier run."""
        return self.stats.get("gmw/article/items", 0) + self.stats.get("gmw/incremental/skipped_stored", 0)

    @property
    def error_rate(self) -> float:
        failed = sum(self.failed.values())
        return failed / max(1, self.pages + failed)


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str  # what it says where it applies ("ok" for an end that is no failure)
    reads: str  # the stats (or the finish reason) it reads
    setting: str | None  # its threshold setting
    message: Callable[[Run], str | None]  # the report's message where the check applies, else None


def _running(run: Run) -> str | None:
    return "the run is in progress" if run.reason == "running" else None


def _already_finished(run: Run) -> str | None:
    return "the distributed run was already finished; nothing to do" if run.reason == "run_already_finished" else None


def _watch_ended(run: Run) -> str | None:
    return "watch mode ended by a signal" if run.watch_ended else None


def _not_finished(run: Run) -> str | None:
    return f"the crawl ended early ({run.reason})" if run.reason != "finished" else None


def _nothing_seen(run: Run) -> bool:
    # a worker of a distributed run that got no work, or whose listings' articles other workers took,
    # is not a failure of the run
    return run.articles_seen == 0 and not (
        run.distributed and (run.pages == 0 or run.stats.get("gmw/listing/article_links", 0)))


def _unreachable(run: Run) -> str | None:
    return unreachable(run) if _nothing_seen(run) else None


def _no_articles(run: Run) -> str | None:
    return "no article found: listings empty or unreachable (markup changed?)" if _nothing_seen(run) else None


def _error_rate(run: Run) -> str | None:
    limit = defaults.get(run.settings, "GMW_MAX_ERROR_RATE")
    # a scheduled run that found nothing new makes a handful of requests: one page that fails in every run
    # would be a third of them (GMW_ERROR_RATE_MIN_REQUESTS); a dead site is still "no_articles"
    judged = run.pages + sum(run.failed.values()) >= defaults.get(run.settings, "GMW_ERROR_RATE_MIN_REQUESTS")
    if run.error_rate > limit and judged:
        return f"{run.error_rate:.0%} of requests failed (GMW_MAX_ERROR_RATE={limit:.0%})"
    return None


def _backlog(run: Run) -> str | None:
    # the run finished, yet requests it had promised were never asked: nothing may hide that behind "ok"
    if not_asked := run.stats.get("gmw/backlog/not_attempted", 0):
        return (f"{not_asked} promised request(s) were not asked by this run although it finished; the next run"
                " asks them first")
    return None


CHECKS: tuple[Check, ...] = (
    Check("running", "running", "the finish reason", None, _running),
    Check("already_finished", "ok", "the finish reason", None, _already_finished),
    Check("watch_ended", "ok", "the finish reason of a watch-mode run", None, _watch_ended),
    Check("not_finished", "not_finished", "the finish reason", None, _not_finished),
    Check("unreachable", "unreachable", "gmw/listing/failed/<reason>, gmw/robots/<host>", None, _unreachable),
    Check("no_articles", "no_articles", "gmw/article/items, gmw/incremental/skipped_stored", None, _no_articles),
    Check("error_rate", "error_rate", "gmw/{article,listing}/failed/<reason>, response_received_count", "GMW_MAX_ERROR_RATE",
          _error_rate),
    Check("backlog", "backlog", "gmw/backlog/not_attempted", None, _backlog),
)


def verdict(run: Run) -> tuple[str, str]:
    """The verdict and message of the first check that applies; ("ok", "") where none does."""
    for check in CHECKS:
        if (message := check.message(run)) is not None:
            return check.verdict, message
    return "ok", ""


def _drift(run: Run) -> str | None:
    return "extraction drift (markup changed?): " + "; ".join(d.describe() for d in run.drift) if run.drift else None


# asked apart from CHECKS, by the report of a finished run whose verdict is "ok" (see the module's docstring)
DRIFT = Check("drift", "drift", "gmw/extract/<field>/<path>, against the earlier runs'", "GMW_DRIFT_THRESHOLD", _drift)


# failures that say the site was not reached at all (name lookup, connection, proxy): Scrapy 2.19's own
# exceptions (scrapy.exceptions) and the Twisted ones older releases let through
NETWORK_FAILURES = frozenset({"CannotResolveHostError", "DownloadConnectionRefusedError", "DownloadTimeoutError",
                              "DNSLookupError", "ConnectionRefusedError", "ConnectError", "TCPTimedOutError",
                              "TimeoutError", "NoRouteError", "ConnectionLost", "ResponseNeverReceived", "TunnelError"})


def unreachable(run: Run) -> str | None:
    """Why the site was not reached, where no listing page came back and each one failed on the network:
    an operator looks at DNS, the network or the proxy, not at the markup."""
    failed = run.sum_of("gmw/listing/failed/")
    if run.stats.get("gmw/listing/pages", 0) or not failed or not set(failed) <= NETWORK_FAILURES | {"robots_unavailable"}:
        return None
    if "robots_unavailable" in failed:
        robots = ", ".join(f"{host} {answer}" for host, answer in run.sum_of("gmw/robots/").items())
        return (f"robots.txt could not be read ({robots}): RFC 9309 says fetch nothing until it can; nothing was"
                " fetched, the next run asks again")
    causes = ", ".join(f"{reason} × {n}" for reason, n in sorted(failed.items()))
    return f"the site was not reached: every listing page failed on the network ({causes}); check DNS, the network or the proxy"
