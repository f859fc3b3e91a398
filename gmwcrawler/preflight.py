"""Checks run by `scrapy crawl` before the crawl starts, so a wrong setting or an
unreachable service is one clear line, not a traceback from inside the engine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from gmwcrawler.distributed.addon import DistributedMode
from gmwcrawler.distributed.connection import RedisUnavailable, ping
from gmwcrawler.distributed.leases import UnsafeWorker, check_worker
from gmwcrawler.pipelines.postgres import connect
from gmwcrawler.redact import mask_url
from gmwcrawler.revisit import schedule
from gmwcrawler.seen.extension import SeenStoreError, open_sqlite_store
from gmwcrawler.state import StateDirError, state_dir, where, writable_dir


class PreflightError(Exception):
    pass


class MetricsDirError(PreflightError):
    """GMW_METRICS_DIR cannot be written: the one start-up failure whose metrics cannot be written either."""


def check(settings: BaseSettings) -> None:
    kind = settings.get("GMW_SEEN_STORE", "sqlite")
    if kind not in ("sqlite", "memory"):
        raise PreflightError(f"GMW_SEEN_STORE={kind!r}: expected sqlite or memory")
    # local state (run reports, unwritten rows, the embedded seen-store) must have a place before
    # anything is fetched: under scrapyd or systemd there may be no project folder (issue #12)
    try:
        writable_dir(state_dir(settings))
    except StateDirError as exc:
        raise PreflightError(f"state directory: {exc} (chosen by {where(settings)}); set GMW_STATE_DIR"
                             " to a writable folder") from None
    if kind == "sqlite" and not settings.get("GMW_REDIS_URL"):
        try:
            open_sqlite_store(settings, "preflight").close()
        except SeenStoreError as exc:
            raise PreflightError(str(exc)) from None
    metrics_dir = settings.get("GMW_METRICS_DIR")
    if metrics_dir:
        try:
            writable_dir(Path(metrics_dir))
        except StateDirError as exc:
            raise MetricsDirError(f"GMW_METRICS_DIR: {exc}") from None
    pushgateway = settings.get("GMW_PUSHGATEWAY_URL")
    if pushgateway and urlsplit(pushgateway).scheme not in ("http", "https"):
        raise PreflightError(f"GMW_PUSHGATEWAY_URL={mask_url(pushgateway)!r}: expected an http:// or https:// URL")
    if settings.get("GMW_REFRESH_WINDOW") is not None:
        raise PreflightError("GMW_REFRESH_WINDOW was replaced by GMW_REFRESH_SCHEDULE (seconds after the first"
                             " fetch, e.g. 900,3600,10800,21600; README: Settings)")
    for name in ("GMW_REFRESH_SCHEDULE", "GMW_FAILED_RETRY_SCHEDULE"):
        try:
            schedule(settings, name)
        except ValueError as exc:
            raise PreflightError(str(exc)) from None
    for name, low, high in (("GMW_NEAR_DUP_THRESHOLD", 0.0, 1.0), ("GMW_LISTING_MARGIN", 0, None),
                            ("GMW_METRICS_INTERVAL", 0, None),
                            ("GMW_MAX_CONTENT_CHARS", 1, None), ("GMW_POSTGRES_BATCH_SIZE", 1, None)):
        raw = settings.get(name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise PreflightError(f"{name}={raw!r}: expected a number") from None
        if value < low or (high is not None and value > high):
            raise PreflightError(f"{name}={raw!r}: expected a number from {low}" + (f" to {high}" if high is not None else " up"))
    redis_url = settings.get("GMW_REDIS_URL")
    if redis_url:
        if settings.get("GMW_DUPEFILTER", "set") not in ("set", "bloom"):
            raise PreflightError(f"GMW_DUPEFILTER={settings.get('GMW_DUPEFILTER')!r}: expected set or bloom")
        for name in ("GMW_LEASE_TIMEOUT", "GMW_IDLE_TIMEOUT", "GMW_GLOBAL_RATE", "GMW_REDIS_OUTAGE_TIMEOUT"):
            try:
                if float(settings.get(name)) < 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise PreflightError(f"{name}={settings.get(name)!r}: expected a number, 0 or more") from None
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
    dsn = settings.get("GMW_POSTGRES_DSN")
    if dsn:
        import psycopg  # as gmwcrawler.pipelines.postgres does: only where PostgreSQL is used

        try:
            connect(dsn, settings.getint("GMW_POSTGRES_CONNECT_TIMEOUT", 5)).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PreflightError(f"cannot connect to PostgreSQL at {mask_url(dsn)}: {reason}") from None
