"""`scrapy gmw history ARTICLE_ID`: the versions PostgreSQL keeps of an article and a
readable diff between two of them: one line per paragraph, as `content` holds them."""

from __future__ import annotations

import difflib
import json

import psycopg
from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.postgres.database import connect, migrate
from gmwcrawler.redact import mask_url


class HistoryError(Exception):
    """One line for the user: no database, no such article, no such version."""


def history(settings: BaseSettings, article_id: str, older: int | None = None, newer: int | None = None) -> str:
    dsn = defaults.get(settings, "GMW_POSTGRES_DSN")
    if not dsn:
        raise HistoryError("GMW_POSTGRES_DSN is not set: versions are kept in PostgreSQL")
    try:
        with connect(dsn, defaults.get(settings, "GMW_POSTGRES_CONNECT_TIMEOUT")) as conn:
            if conn.execute("SELECT to_regclass('gmw_article_versions')").fetchone()[0] is None:
                raise HistoryError(f"no versions table at {mask_url(dsn)}: no crawl has written there yet")
            migrate(conn)  # written by an earlier version: keyed on the identity key first, as a crawl would
            keys = [row[0] for row in conn.execute(
                "SELECT DISTINCT identity_key FROM gmw_article_versions WHERE article_id = %s OR identity_key = %s"
                " ORDER BY 1", (article_id, article_id))]
            if len(keys) > 1:  # m.gmw.cn numbers its articles itself: its 123 is not politics.gmw.cn's
                raise HistoryError(f"{article_id} names {len(keys)} articles: {', '.join(keys)}; give one of these")
            rows = conn.execute(
                "SELECT version, fetched_at, title, content, changed_fields, fields FROM gmw_article_versions"
                " WHERE identity_key = %s ORDER BY version", (keys[0] if keys else "",)).fetchall()
    except psycopg.errors.UndefinedTable:
        raise HistoryError(f"no versions table at {mask_url(dsn)}: no crawl has written there yet") from None
    except psycopg.Error as exc:
        raise HistoryError(f"cannot read PostgreSQL at {mask_url(dsn)}: {str(exc).strip().splitlines()[0]}") from None
    if not rows:
        raise HistoryError(f"article {article_id} has no stored version")
    versions = {row[0]: row for row in rows}
    newer = newer if newer is not None else rows[-1][0]
    older = older if older is not None else max((v for v in versions if v < newer), default=newer)
    for number in (older, newer):
        if number not in versions:
            raise HistoryError(f"article {article_id} has no version {number} (versions: {', '.join(map(str, versions))})")
    lines = [f"article {article_id}: {len(rows)} version(s)"]
    for version, fetched_at, title, _content, changed, _fields in rows:
        what = f"changed: {', '.join(changed)}" if changed else ("first stored" if version == rows[0][0] else "")
        lines.append(f"  v{version}  {fetched_at:%Y-%m-%d %H:%M:%S %Z}  {what}  {title}")
    if older == newer:
        return "\n".join(lines)
    a, b = versions[older], versions[newer]
    lines.append("")
    before = {"title": a[2], "content": a[3], **(a[5] or {})}
    after = {"title": b[2], "content": b[3], **(b[5] or {})}
    for name in dict.fromkeys([*before, *after]):
        if before.get(name) == after.get(name):
            continue
        lines.extend(difflib.unified_diff(_lines(before.get(name)), _lines(after.get(name)),
                                          f"v{older} {name}", f"v{newer} {name}", lineterm=""))
    return "\n".join(lines)


def _lines(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    return [json.dumps(v, ensure_ascii=False, sort_keys=True) for v in value] if isinstance(value, list) else [str(value)]
