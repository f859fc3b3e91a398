"""The article: every field declared once, with its type, what it means and how PostgreSQL keeps it.

Derived from ArticleItem's fields: the PostgreSQL columns (gmwcrawler.postgres.sink: `column` is "value",
"list" for text[] or "json" for jsonb; the sink adds identity_key, content_hash and revision), the fields
gmwcrawler.extract.article.merge_pages fills from the pages (`merged`) and the output table of
docs/reference.md (`python -m gmwcrawler.items` prints it). tests/test_schema.py checks each. Field names
are the project's public interface.
"""

from __future__ import annotations

from typing import Literal

import scrapy

Column = Literal["value", "list", "json"]


def _field(kind: str, meaning: str, column: Column | None = None, merged: bool = False) -> scrapy.Field:
    return scrapy.Field(kind=kind, meaning=meaning, column=column, merged=merged)


class ArticleItem(scrapy.Item):
    url = _field("str", column="value", merged=True, meaning="page-1 URL")
    article_id = _field("str", column="value", merged=True, meaning='`"38547123"` (string)')
    title = _field("str", column="value", merged=True, meaning="`视频丨货物贸易额首破千亿美元 …`")
    publish_time = _field("str", column="value", merged=True, meaning=(
        "`2026-01-20T16:07:00+08:00` — Beijing time, seconds from the page's `enpproperty` comment where "
        "the visible time hides them"))
    source = _field("str | None", column="value", merged=True, meaning="`央视新闻客户端` (without `来源：`)")
    editor = _field("str | None", column="value", merged=True, meaning="`邢彬` (name only)")
    author = _field("str", column="value", merged=True, meaning=(
        'the writer\'s credit, `""` when the page names none: the enpproperty `<author>`, else a leading '
        "`光明网评论员：` (→ `光明网评论员`, the line stays) or a `记者`/`作者：` byline of at most 40 characters (→ the "
        "names; the byline leaves `content`). Never the editor: the head meta `author` holds the 责编 on "
        "the real 2024 page. PostgreSQL column `author` (migration 002)"))
    channel = _field("list[str]", column="list", merged=True, meaning='breadcrumb, `["时政频道", "国内"]`')
    keywords = _field("list[str]", column="list", merged=True, meaning="list of the keywords the page gives")
    content = _field("str", column="value", merged=True, meaning=(
        "plain text, one paragraph per line, no indent, no page furniture (`.u-moreText`, QR code, "
        "`.text-right`, the 小调查 vote block, 【上一篇】/【下一篇】, （转载请注明来源, 责任编辑：, node_ logo links — from the "
        "real pages and RSSHub's gmw route — nor an editor's grid of links and thumbnails at the end of "
        "the body, as on the real 2012 page 5439435), no image captions. The 光明日报 print credit line "
        "(《光明日报》（2024年05月20日 03版）) is kept as the last line, by choice: it is the only record of the "
        "edition and page the article ran on"))
    content_html = _field("str", column="value", merged=True, meaning=(
        "the article body only, sanitised: no scripts, styles, comments, event or style attributes, "
        "pager or editor line; image `src` absolute (lazy-load URLs resolved)"))
    images = _field("list[dict[str, str]]", column="json", merged=True, meaning=(
        '`[{"url", "caption"}]`, absolute URLs, captions from `p.pictext` (or, its class gone, the '
        "centred short paragraph right after the picture)"))
    videos = _field("list[str]", column="json", merged=True, meaning=(
        "absolute media URLs from `#MultiAttachPh` (without it: an element whose whole text is media "
        "URLs)"))
    related = _field("list[dict[str, str]]", column="json", merged=True, meaning=(
        '`[{"url", "title"}]` from the related-reading blocks — found by their heading (相关阅读, 相关报道, '
        "相关新闻, 相关链接) whatever their class, and by the real containers (`div.m-relRead`, `ul#relReadUl`, "
        "the 2012 `#contentRelated`) — and inline 相关阅读：/相关链接： paragraphs"))
    page_count = _field("int", column="value", merged=True, meaning="number of pages merged")
    crawled_at = _field("str", column="value", meaning="UTC, ISO 8601")
    missing_pages = _field("list[int]", meaning=(
        "only when a later page of a multi-page article failed for good: the page numbers not in "
        "`content`"))
    reporters = _field("list[str]", column="list", meaning=(
        'reporter credits parsed from `content`, e.g. `（总台央视记者 黄惠馨 李峻）` → `["黄惠馨", "李峻"]` (the credit '
        "stays in `content`)"))
    alt_urls = _field("list[str]", column="list", meaning=(
        "other URLs of the same article, where they were seen before the item left (always in "
        "PostgreSQL's `alt_urls` column)"))
    version = _field("int", meaning=(
        "`1` for a new article, `2`, `3`… for each stored correction (a refresh in which `title`, "
        "`publish_time`, `source`, `editor`, `author`, `keywords`, `content`, `images` or `videos` "
        "changed)"))
    changed_fields = _field("list[str]", meaning=(
        'only on a correction: which of those fields changed, e.g. `["title", "content"]`'))
    first_listed_at = _field("str", meaning=(
        "UTC, ISO 8601: when this run first saw the article in a listing (absent for an article reached "
        "only through 相关阅读)"))
    provenance = _field("dict[str, str]", column="json", merged=True, meaning=(
        'which route read each field: `{"title": "a", "content": "generic", …}` — a template (`a`, `b`, '
        "`old2012`, `gallery`), a fallback (`enp`, `meta`, `line`, `bd`), `landmark` (the pager, "
        '`#MultiAttachPh`, the 相关阅读 block), `body` (相关阅读： paragraphs), or `generic` (docs/design.md, "When gmw.cn '
        'redesigns its pages"). PostgreSQL column `provenance` (jsonb, migration 005)'))
    generic_fields = _field("list[str]", column="list", merged=True, meaning=(
        "the fields no template found and a generic route read, sorted; `[]` normally. Filter on it: "
        "PostgreSQL `WHERE generic_fields = '{}'`, jq `select(.generic_fields == [])`"))


def columns() -> dict[str, Column]:
    """The item's fields that are PostgreSQL columns of gmw_articles, with how each is kept."""
    return {name: f["column"] for name, f in ArticleItem.fields.items() if f["column"]}


def merged_fields() -> list[str]:
    """The fields merge_pages makes from an article's pages; the spider adds the rest."""
    return [name for name, f in ArticleItem.fields.items() if f["merged"]]


def markdown_table() -> str:
    """The output table of docs/reference.md."""
    rows = [f"| `{name}` | `{f['kind']}` | {f['meaning']} |" for name, f in ArticleItem.fields.items()]
    return "| field | type | example / meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
