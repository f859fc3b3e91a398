"""A redesign simulator: a page's markup changed the way CMS redesigns change it, its words kept.

Each transformation takes a page's HTML and returns the changed HTML. tests/test_redesign.py runs
them over every real page (tests/fixtures/real/) and every replica template, and compares what the
extractor reads with what it reads on the unchanged page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import lxml.html
from lxml import etree

Transform = Callable[[lxml.html.HtmlElement], None]
_RELATED_WORDS = ("相关阅读", "相关报道", "相关链接", "相关新闻")


def _new_name(name: str) -> str:
    """A stable new name: the same old name gets the same new one everywhere on the page."""
    return "r" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()


def _elements(root: lxml.html.HtmlElement) -> Iterator[lxml.html.HtmlElement]:
    return (el for el in root.iter() if isinstance(el.tag, str))


def rename_classes(root: lxml.html.HtmlElement) -> None:
    for el in _elements(root):
        if el.get("class") is not None:
            el.set("class", " ".join(_new_name(token) for token in el.get("class").split()))


def drop_classes(root: lxml.html.HtmlElement) -> None:
    for el in _elements(root):
        el.attrib.pop("class", None)


def rename_ids(root: lxml.html.HtmlElement) -> None:
    for el in _elements(root):
        if el.get("id") is not None:
            el.set("id", _new_name(el.get("id")))


def drop_ids(root: lxml.html.HtmlElement) -> None:
    for el in _elements(root):
        el.attrib.pop("id", None)


def rename_both(root: lxml.html.HtmlElement) -> None:
    rename_classes(root)
    rename_ids(root)


def drop_both(root: lxml.html.HtmlElement) -> None:
    drop_classes(root)
    drop_ids(root)


def headings_to_div(root: lxml.html.HtmlElement) -> None:
    """A heading written as a `div` (the title's h1 included), its attributes kept."""
    for el in list(root.iter("h1", "h2", "h3", "h4", "h5", "h6")):
        el.tag = "div"


def wrap_containers(root: lxml.html.HtmlElement) -> None:
    """Every div that holds a paragraph gets a wrapper div of its own, and every div's children
    one more level inside it: a layout grid added around and within the containers."""
    for el in [d for d in root.iter("div") if d.find("p") is not None]:
        wrapper = lxml.html.Element("div")
        el.addprevious(wrapper)
        wrapper.append(el)  # moves it, tail included
    for el in [d for d in root.iter("div") if len(d) and d.text is None]:
        inner = lxml.html.Element("div")
        for child in list(el):
            inner.append(child)
        el.append(inner)


def unwrap_containers(root: lxml.html.HtmlElement) -> None:
    """Divs with no attributes the templates read and a single element child are replaced by
    their child; every other div without id or class is flattened into its parent."""
    for el in [d for d in root.iter("div") if d.getparent() is not None and not d.get("id") and not d.get("class")]:
        el.drop_tag()


def move_related(root: lxml.html.HtmlElement) -> None:
    """The related-reading block (the container of its label) moved to the top of the page body."""
    body = root.find("body")
    for text in root.xpath("//body//text()[normalize-space()]"):
        if text.strip().rstrip("：:") in _RELATED_WORDS:
            block = text.getparent()
            while block.getparent() is not None and block.getparent().tag != "body" and len(block.xpath(".//a")) == 0:
                block = block.getparent()
            if block.getparent() is not None and block.getparent().tag != "body" and block.tag in ("h2", "h3", "h4", "strong", "span"):
                block = block.getparent()
            if block is body or block.find(".//p") is not None and len(block.xpath(".//p")) > 8:
                continue  # a whole body, not a block
            tail = block.tail
            block.tail = None
            previous = block.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + (tail or "")
            else:
                block.getparent().text = (block.getparent().text or "") + (tail or "")
            body.insert(0, block)


def remove_enp_comments(root: lxml.html.HtmlElement) -> None:
    for comment in root.xpath("//comment()"):
        if "enp" in (comment.text or ""):
            comment.drop_tree() if comment.tail is None else _drop_keeping_tail(comment)


def _drop_keeping_tail(node: etree._Element) -> None:
    parent, tail = node.getparent(), node.tail
    previous = node.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(node)


def remove_head_meta(root: lxml.html.HtmlElement) -> None:
    """Every head meta but the charset."""
    for meta in root.xpath("//meta[@name or @property]"):
        meta.getparent().remove(meta)


def reorder_attributes_and_whitespace(root: lxml.html.HtmlElement) -> None:
    """Attributes in reverse order; a new line and an indent before every element."""
    for el in _elements(root):
        items = list(el.attrib.items())
        el.attrib.clear()
        for name, value in reversed(items):
            el.set(name, value)
    for el in list(_elements(root)):
        if el.getparent() is not None and el.tag not in ("html", "head", "body"):
            previous = el.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + "\n  "
            else:
                el.getparent().text = (el.getparent().text or "") + "\n  "


def everything(root: lxml.html.HtmlElement) -> None:
    """Every change at once: names dropped, headings as divs, containers wrapped, no enp comment, no head meta."""
    for change in (drop_both, headings_to_div, wrap_containers, remove_enp_comments, remove_head_meta):
        change(root)


TRANSFORMS: dict[str, Transform] = {
    "unchanged": lambda root: None,
    "rename_classes": rename_classes,
    "rename_ids": rename_ids,
    "rename_both": rename_both,
    "drop_classes": drop_classes,
    "drop_ids": drop_ids,
    "drop_both": drop_both,
    "headings_to_div": headings_to_div,
    "wrap_containers": wrap_containers,
    "unwrap_containers": unwrap_containers,
    "move_related": move_related,
    "remove_enp_comments": remove_enp_comments,
    "remove_head_meta": remove_head_meta,
    "reorder_attributes_and_whitespace": reorder_attributes_and_whitespace,
    "rename_both+remove_enp_comments": lambda root: (rename_both(root), remove_enp_comments(root)),
    "everything": everything,
}


def redesign(html: bytes, transform: str) -> bytes:
    """The page, parsed, changed and written again as UTF-8 (the charset meta says so already on
    every real page and replica page)."""
    root = lxml.html.document_fromstring(html.decode("utf-8"))
    TRANSFORMS[transform](root)
    doctype = root.getroottree().docinfo.doctype
    return lxml.html.tostring(root, encoding="unicode", doctype=doctype or None).encode("utf-8")
