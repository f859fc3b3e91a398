"""Text helpers shared by the extractors (w3lib does the HTML-level work)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

from w3lib.html import remove_tags, replace_entities

BEIJING = timezone(timedelta(hours=8))
# Paragraphs start with full-width spaces (　　); &nbsp; is common too.
_SPACE_RE = re.compile(r"[\s\u3000\xa0\u200b\ufeff]+")
_TIME_RE = re.compile(
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?\s*(?:T|\s)*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?"
)


def clean_text(value: str | None) -> str:
    """Collapse all kinds of white space (full-width included) and trim."""
    if not value:
        return ""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", value)).strip()


def html_to_text(value: str | None) -> str:
    if not value:
        return ""
    return clean_text(replace_entities(remove_tags(value)))


def parse_beijing_time(value: str | None) -> datetime | None:
    """'2026-01-20 16:07', '2012-09-24 15:15:45', '2026年01月20日 16:07' -> aware datetime (UTC+8).

    gmw.cn prints Beijing time with no zone (../shared/gmw/README.md).
    """
    if not value:
        return None
    m = _TIME_RE.search(value)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)
    except ValueError:
        return None


def iso8601(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
