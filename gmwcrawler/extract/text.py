"""Text helpers shared by the extractors (w3lib does the HTML-level work)."""

from __future__ import annotations

import codecs
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

from scrapy.http import TextResponse
from w3lib.html import remove_tags, replace_entities

BEIJING = timezone(timedelta(hours=8))
# Paragraphs start with full-width spaces (　　); &nbsp; is common too.
_SPACE_RE = re.compile(r"[\s\u3000\xa0\u200b\ufeff]+")
_TIME_RE = re.compile(
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?\s*(?:T|\s)*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?"
)

# C0 controls but tab, newline and CR; DEL; C1; the non-characters U+FFFE/U+FFFF. No page text
# means them (word processors paste controls into CMS text), lxml refuses them in text and
# attributes ("All strings must be XML compatible", tests/test_fuzz.py), and a consumer of the feed
# should never see them.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


# the same characters written as numeric references (`&#x1;`, `&#0;`): the parser turns them into
# text lxml then refuses to set (a fuzzed real page, tests/test_fuzz.py); also references past U+10FFFF
_CHAR_REF_RE = re.compile(r"&#(?:[xX]0*([0-9a-fA-F]{1,8})|0*([0-9]{1,10}));?")


def _bad_reference(match: re.Match[str]) -> bool:
    code = int(match.group(1), 16) if match.group(1) is not None else int(match.group(2))
    return code > 0x10FFFF or bool(_CONTROL_RE.match(chr(code)))


# The same check on the bytes of a UTF-8 page, at memchr speed: the character-class search over a
# page's text costs 0.3-0.7 ms, a fifth of the extraction (measured on tests/fixtures/real).
_C0_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_UTF8_C1_RE = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080-U+009F
_UTF8_NONCHAR_RE = re.compile(rb"\xef\xbf[\xbe\xbf]")  # U+FFFE, U+FFFF


def _may_hold_controls(response: TextResponse) -> bool:
    try:
        utf8 = codecs.lookup(response.encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if not utf8:
        return True  # another charset: the text itself is searched
    body = response.body
    return (len(body.translate(None, _C0_BYTES)) != len(body) or _UTF8_C1_RE.search(body) is not None
            or _UTF8_NONCHAR_RE.search(body) is not None)


def readable(response: TextResponse) -> TextResponse:
    """The response itself, or, where its text holds control characters (raw or as numeric
    references), a copy without them."""
    text = response.text
    cleaned = text
    if _may_hold_controls(response) and _CONTROL_RE.search(text):
        cleaned = _CONTROL_RE.sub("", text)
    # "&#" found at memchr speed first: the pattern's search over a whole page costs ~0.1 ms
    if "&#" in cleaned and any(_bad_reference(m) for m in _CHAR_REF_RE.finditer(cleaned)):
        cleaned = _CHAR_REF_RE.sub(lambda m: "" if _bad_reference(m) else m.group(0), cleaned)
    if cleaned is text:
        return response
    return response.replace(body=cleaned.encode("utf-8"), encoding="utf-8")


def clean_text(value: str | None) -> str:
    """Collapse all kinds of white space (full-width included), drop control characters, trim."""
    if not value:
        return ""
    if _CONTROL_RE.search(value):  # first: "0 \x1b" must trim to "0", not "0 "
        value = _CONTROL_RE.sub("", value)
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", value)).strip()


def html_to_text(value: str | None) -> str:
    if not value:
        return ""
    return clean_text(replace_entities(remove_tags(value)))


def parse_beijing_time(value: str | None) -> datetime | None:
    """'2026-01-20 16:07', '2012-09-24 15:15:45', '2026年01月20日 16:07' -> aware datetime (UTC+8).

    gmw.cn prints Beijing time with no zone (docs/evidence.md).
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


def parse_publish_time(value: Any) -> datetime | None:
    """ISO 8601 with a zone, or any Beijing-time text the pages use."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is not None:
            return moment
    except ValueError:
        pass
    return parse_beijing_time(value)
