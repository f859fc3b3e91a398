"""Clean: the same item, tidied. Idempotent — cleaning a clean item changes nothing."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from w3lib.html import remove_tags, replace_entities

from gmwcrawler.extract.furniture import is_furniture_line
from gmwcrawler.extract.text import BEIJING, clean_text, iso8601, parse_publish_time

from .drops import Dropper

logger = logging.getLogger(__name__)


@cache
def _ftfy_config():
    import ftfy  # 100 ms of imports, needed only where mojibake is possible (rare)

    # Keep Chinese text as it is: no full-width -> half-width folding, no quote uncurling.
    return ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, fix_character_width=False,
                                fix_latin_ligatures=False, normalization="NFC", explain=False)


def _fix_mojibake(text: str) -> str:
    import ftfy

    return ftfy.fix_text(text, _ftfy_config())


_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
# UTF-8 read as Latin-1/cp1252: each character becomes a lead character Â–ô (bytes C2–F4;
# à–ï for Chinese) and continuation characters (bytes 80–BF, which cp1252 maps partly above U+00FF).
# Only text with such a pair goes to ftfy; a lone · or × (common in Chinese text) does not.
_CONTINUATION = "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018\u2019" \
                "\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
_MOJIBAKE_HINT_RE = re.compile(f"[\u00c2-\u00f4][{_CONTINUATION}]")
_ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);")
_SOURCE_LABEL_RE = re.compile(r"^\s*[【\[]?\s*来源\s*[:：]\s*")
_EDITOR_LABEL_RE = re.compile(r"^[\[【(（\s]*(责编|责任编辑|编辑)\s*[:：]\s*|[\]】)）\s]+$")
# （总台央视记者 黄惠馨 李峻） / （记者 张三 李四 摄） / 光明日报北京1月20日电（记者 王五）
_REPORTERS_RE = re.compile(r"[（(][^（）()]{0,24}?记者[:：\s]*([^（）()]+?)\s*[)）]")
_NAME_RE = re.compile(r"^[\u4e00-\u9fff·]{2,6}$")


def _until_stable(fix, text: str) -> str:
    for _ in range(8):  # entities inside entities (&amp;lt;b&amp;gt;): to a fixed point, so cleaning is idempotent
        fixed = fix(text)
        if fixed == text:
            break
        text = fixed
    return text


def clean_line(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return _until_stable(_clean_once, value)


def _clean_once(text: str) -> str:
    if _ENTITY_RE.search(text):
        text = replace_entities(text)
    if _TAG_RE.search(text):
        text = remove_tags(text)
    if _MOJIBAKE_HINT_RE.search(text):  # ftfy is the slowest step: run it only where it can find something
        text = _fix_mojibake(text)
    if not text.isprintable():  # one C-level check; the per-character filter only where it removes something
        text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    return clean_text(text)


def clean_content(value: Any) -> str:
    lines = (clean_line(line) for line in (value or "").splitlines()) if isinstance(value, str) else ()
    return "\n".join(line for line in lines if line and not is_furniture_line(line))


def clean_source(value: Any) -> str:
    return _until_stable(lambda t: _SOURCE_LABEL_RE.sub("", t).strip(), clean_line(value))


def clean_editor(value: Any) -> str:
    return _until_stable(lambda t: _EDITOR_LABEL_RE.sub("", t).strip(), clean_line(value))


def clean_list(values: Any) -> list[str]:
    out: list[str] = []
    for value in values if isinstance(values, (list, tuple)) else []:
        text = clean_line(value)
        if text and text not in out:
            out.append(text)
    return out


def reporters(content: str) -> list[str]:
    names: list[str] = []
    for m in _REPORTERS_RE.finditer(content):
        for name in re.split(r"[\s、，,/]+", m.group(1)):
            if _NAME_RE.match(name) and name not in ("摄", "报道") and name not in names:
                names.append(name)
    return names


def clean_publish_time(value: Any) -> Any:
    moment = parse_publish_time(value)
    return iso8601(moment.astimezone(BEIJING)) if moment else value


def clean_links(values: Any, text_field: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for value in values if isinstance(values, (list, tuple)) else []:
        if isinstance(value, dict) and isinstance(value.get("url"), str) and value["url"].strip():
            out.append({"url": value["url"].strip(), text_field: clean_line(value.get(text_field, ""))})
    return out


def clean_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The cleaned copy of an item's fields (pure; clean_fields(clean_fields(x)) == clean_fields(x))."""
    out = dict(item)
    for field in ("title", "article_id", "author"):
        if field in out:
            out[field] = clean_line(out[field])
    if "source" in out:
        out["source"] = clean_source(out["source"])
    if "editor" in out:
        out["editor"] = clean_editor(out["editor"])
    if "publish_time" in out:
        out["publish_time"] = clean_publish_time(out["publish_time"])
    for field in ("channel", "keywords"):
        if field in out:
            out[field] = clean_list(out[field])
    if "content" in out:
        out["content"] = clean_content(out["content"])
        out["reporters"] = reporters(out["content"])
    if "images" in out:
        out["images"] = clean_links(out["images"], "caption")
    if "related" in out:
        out["related"] = clean_links(out["related"], "title")
    if isinstance(out.get("content_html"), str) and _MOJIBAKE_HINT_RE.search(out["content_html"]):
        out["content_html"] = _fix_mojibake(out["content_html"])
    return out


class CleanPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.drop = Dropper(crawler, logger)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        # a shallow copy: clean_fields builds new lists and dicts. (ItemAdapter.asdict() walks every
        # nested value through every adapter class: half a millisecond per article; bench/README.md.)
        cleaned = clean_fields(dict(adapter))
        if not cleaned.get("content"):
            raise self.drop("empty_after_cleaning", "content was only page furniture", cleaned.get("url"))
        changed = [k for k, v in cleaned.items() if adapter.get(k) != v]
        for key, value in cleaned.items():
            adapter[key] = value
        self.stats.inc_value("gmw/pipeline/cleaned")
        if changed:
            self.stats.inc_value("gmw/pipeline/clean_changed_items")
        return item
