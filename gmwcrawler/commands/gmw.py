"""`scrapy gmw status|seed|reset|failed`: look at and steer a distributed run; the
dead-letter list of pages extraction could not read; `scrapy gmw history ARTICLE_ID`:
the versions of an article kept in PostgreSQL and what changed between two of them;
`scrapy gmw replay [FILE]`: load the PostgreSQL sink's fallback file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from gmwcrawler import defaults
from gmwcrawler.redact import mask_url


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012 - Scrapy's own attribute name and shape

    def syntax(self) -> str:
        return "status|seed|reset|failed [options] | history ARTICLE_ID [--from N] [--to M] | replay [FILE]"

    def short_desc(self) -> str:
        return "Status, seeding and reset of a distributed run in Redis (GMW_REDIS_URL); article history (GMW_POSTGRES_DSN)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--spider", default="politics")
        parser.add_argument("--json", action="store_true", help="status as JSON")
        parser.add_argument("--force", action="store_true", help="seed even though a run is in progress")
        parser.add_argument("--everything", action="store_true",
                            help="reset also the seen-store and stored items (the next run re-fetches all)")
        parser.add_argument("--requeue", action="store_true",
                            help="failed: put the dead-letter list's requests back into the shared queue")
        parser.add_argument("--from", dest="from_version", type=int, help="history: the older version (default: the one before --to)")
        parser.add_argument("--to", dest="to_version", type=int, help="history: the newer version (default: the newest)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        # imported here, for start-up cost: Scrapy imports every command on every `scrapy …` call, and these are
        # 140 ms of imports (redis-py, numpy for identity; `python -X importtime`)
        from gmwcrawler.distributed.connection import RedisUnavailable, client, ping
        from gmwcrawler.distributed.keys import Keys
        from gmwcrawler.distributed.queue import requeue_failed
        from gmwcrawler.distributed.run import reset, seed, status
        assert self.settings is not None
        if args and args[0] == "history":
            if len(args) != 2:
                raise UsageError("expected: scrapy gmw history ARTICLE_ID (the number in content_<id>.htm, or an identity"
                                 " key such as m.gmw.cn:<id>)")
            from gmwcrawler.postgres.history import HistoryError, history  # psycopg: 80 ms more, for this subcommand only

            try:
                print(history(self.settings, args[1], opts.from_version, opts.to_version))
            except HistoryError as exc:
                raise UsageError(str(exc), print_help=False) from None
            return
        if args and args[0] == "replay":
            self._replay(args[1:])
            return
        if len(args) != 1 or args[0] not in ("status", "seed", "reset", "failed"):
            raise UsageError("expected one of: status, seed, reset, failed, history, replay")
        url = defaults.redis_url(self.settings)
        if not url:
            raise UsageError("GMW_REDIS_URL is not set: set it in the environment (GMW_REDIS_URL=redis://… scrapy gmw …),"
                             " not with -s, which puts the password on the command line", print_help=False)
        try:
            ping(url, self.settings)
        except RedisUnavailable as exc:
            raise UsageError(str(exc), print_help=False) from None
        redis_client = client(url, self.settings)
        keys = Keys.of(self.settings, opts.spider)
        if args[0] == "seed":
            created, run_id = seed(redis_client, keys, force=opts.force)
            print(f"seeded new run {run_id}" if created else f"run {run_id} is still in progress; not seeded")
        elif args[0] == "failed":
            if opts.requeue:
                print(f"requeued {requeue_failed(redis_client, keys)} request(s) from {keys.failed}")
            else:
                for raw in redis_client.lrange(keys.failed, 0, -1):
                    try:
                        entry = json.loads(raw)
                        print(f"{entry['at']}  {entry['url']}  {entry['reason']}  ({entry['worker']})")
                    except (ValueError, KeyError, TypeError):
                        print(f"malformed entry: {raw[:200]!r}")
        elif args[0] == "reset":
            print(f"deleted {reset(redis_client, keys, everything=opts.everything)} key(s)")
        else:
            report = status(redis_client, keys)
            print(json.dumps(report, ensure_ascii=False, indent=1) if opts.json else _render(report))


    def _replay(self, files: list[str]) -> None:
        """Load the PostgreSQL sink's fallback file (rows a run could not write) into the database."""
        # psycopg: 80 ms more, for this subcommand only
        from gmwcrawler.postgres.sink import fallback_path, replay

        assert self.settings is not None
        dsn = defaults.get(self.settings, "GMW_POSTGRES_DSN")
        if not dsn:
            raise UsageError("GMW_POSTGRES_DSN is not set: set it in the environment (GMW_POSTGRES_DSN=postgresql://…"
                             " scrapy gmw …), not with -s, which puts the password on the command line", print_help=False)
        if len(files) > 1:
            raise UsageError("expected: scrapy gmw replay [FILE] (default: GMW_POSTGRES_FALLBACK)")
        path = Path(files[0]) if files else fallback_path(self.settings)
        if not path.exists():
            print(f"nothing to replay: {path} does not exist")
            return
        import psycopg

        try:
            rows, alts, done = replay(dsn, path, defaults.get(self.settings, "GMW_POSTGRES_CONNECT_TIMEOUT"))
        except (psycopg.Error, ValueError, KeyError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"cannot replay {path} into {mask_url(dsn)}: {reason}", print_help=False) from None
        print(f"replayed {rows} row(s) and {alts} alt URL(s) from {path} into {mask_url(dsn)}; the file is now {done}")


def _render(report: dict) -> str:
    run = report["run"]
    lines = [
        f"run {run.get('id', '-')}: {run.get('state', 'not started')} (started {run.get('started_at', '-')})",
        (f"queued {report['queued']}, leased {report['leased']}, rejected entries {report['rejected_entries']}, "
         f"unreadable pages {report['unreadable_pages']} (scrapy gmw failed)"),
        f"items stored {report['items_stored']}, articles known {report['articles_known']}"
        + (f", malformed heartbeats/reports skipped {report['malformed_entries']}" if report["malformed_entries"] else ""),
        f"pages {report['pages']} ({report['pages_per_minute']}/min), errors {report['errors']}",
    ]
    if watch := report.get("watch"):
        since = watch["seconds_since_last_poll"]
        lines.append(f"watch mode: poller {watch['poller'] or 'none (the lease lapsed)'}, last poll "
                     + (f"{since} s ago by {watch['last_poll_by']}" if since is not None else "never"))
    lines.append("workers:")
    for w in report["workers"]:
        lines.append(f"  {w['worker']}  {'alive' if w['alive'] else w['state']:<22} pages {w['pages']:>6}  "
                     f"items {w['items']:>6}  errors {w['errors']:>3}  leases {w['leases']:>3}  "
                     f"last heartbeat {w['seconds_since_heartbeat']} s ago")
    if report["last_reports"]:
        lines.append("last reports:")
        for r in report["last_reports"][:5]:
            lines.append(f"  {r['end']}  run {r['run']}  {r['worker']}  {r['verdict']:<12} pages {r['pages']:>6}  "
                         f"items {r['items_stored']:>6}  error rate {r['error_rate']:.1%}  {r['message']}")
    return "\n".join(lines)
