"""Checks run by `scrapy crawl` before the crawl starts, so a wrong setting or an
unreachable service is one clear line, not a traceback from inside the engine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.distributed.addon import DistributedMode
from gmwcrawler.distributed.connection import RedisUnavailable, ping
from gmwcrawler.distributed.leases import UnsafeWorker, check_worker
from gmwcrawler.incremental.crawl_store import SeenStoreError, open_sqlite_store
from gmwcrawler.incremental.revisit import schedule
from gmwcrawler.postgres.database import MigrationRefused, connect, migrate
from gmwcrawler.redact import mask_url
from gmwcrawler.state import StateDirError, state_dir, where, writable_dir


class PreflightError(Exception):
    pass


class MetricsDirError(PreflightError):
    """GMW_METRICS_DIR cannot be written: the one start-up failure whose metrics cannot be written either."""


def check(settings: BaseSettings) -> None:
    kind = defaults.get(settings, "GMW_SEEN_STORE")
    if kind not in ("sqlite", "memory"):
        raise PreflightError(f"GMW_SEEN_STORE={kind!r}: expected sqlite or memory")
    # local state (run reports, unwritten rows, the embedded seen-store) must have a place before
    # anything is fetched: under scrapyd or systemd there may be no project folder
    try:
        writable_dir(state_dir(settings))
    except StateDirError as exc:
        raise PreflightError(f"state directory: {exc} (chosen by {where(settings)}); set GMW_STATE_DIR"
                             " to a writable folder") from None
    if kind == "sqlite" and not defaults.redis_url(settings):
        try:
            open_sqlite_store(settings, "preflight").close()
        except SeenStoreError as exc:
            raise PreflightError(str(exc)) from None
    metrics_dir = defaults.get(settings, "GMW_METRICS_DIR")
    if metrics_dir:
        try:
            writable_dir(Path(metrics_dir))
        except StateDirError as exc:
            raise MetricsDirError(f"GMW_METRICS_DIR: {exc}") from None
    pushgateway = defaults.get(settings, "GMW_PUSHGATEWAY_URL")
    if pushgateway and urlsplit(pushgateway).scheme not in ("http", "https"):
        raise PreflightError(f"GMW_PUSHGATEWAY_URL={mask_url(pushgateway)!r}: expected an http:// or https:// URL")
    replaced = defaults.removed(settings)
    if replaced:
        raise PreflightError(f"{replaced} (docs/reference.md: Settings)")
    for name in ("GMW_REFRESH_SCHEDULE", "GMW_FAILED_RETRY_SCHEDULE"):
        try:
            schedule(settings, name)
        except ValueError as exc:
            raise PreflightError(str(exc)) from None
    try:
        defaults.check_numbers(settings)
    except ValueError as exc:
        raise PreflightError(str(exc)) from None
    redis_url = defaults.redis_url(settings)
    if redis_url:
        try:
            defaults.check_relations(settings)
        except ValueError as exc:
            raise PreflightError(str(exc)) from None
        if defaults.get(settings, "GMW_DUPEFILTER") not in ("set", "bloom"):
            raise PreflightError(f"GMW_DUPEFILTER={defaults.get(settings, 'GMW_DUPEFILTER')!r}: expected set or bloom")
        final = settings.copy()  # as the crawler will have them: with the add-on's components
        DistributedMode().update_settings(final)
        try:
            check_worker(final)
        except UnsafeWorker as exc:
            raise PreflightError(str(exc)) from None
        try:
            ping(redis_url, settings)
        except RedisUnavailable as exc:
            raise PreflightError(str(exc)) from None
    dsn = defaults.get(settings, "GMW_POSTGRES_DSN")
    if dsn:
        import psycopg  # as gmwcrawler.postgres.sink does: only where PostgreSQL is used

        try:
            with connect(dsn, defaults.get(settings, "GMW_POSTGRES_CONNECT_TIMEOUT")) as conn:
                migrate(conn)  # now, not in the pipeline: a role that may not is one line before any fetch
        except MigrationRefused as exc:
            raise PreflightError(str(exc)) from None
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PreflightError(f"cannot connect to PostgreSQL at {mask_url(dsn)}: {reason}") from None
