"""Extraction accuracy and CPU per page: gmwcrawler against trafilatura 2.x and GNE.

Pages: page 1 of every article of a replica (ground truth from the replica) and the real
pages of tests/fixtures/real/ (truth checked by hand against the markup). Per field: the
share of pages where the field is right — title and editor exactly, publish time to the
minute, source exactly — and for the body the mean character-level F1 against the truth.
CPU: process time for all pages, each extractor on the same bytes.

    .venv/bin/python -m bench.extraction [--articles 300] [--redesign rename_both]

--redesign reads every page changed by one of tests/redesign.py's transformations (a CMS redesign:
classes and ids renamed, …): then gmwcrawler's templates find little and its generic routes read the
page (gmwcrawler.extract.generic). "trafilatura+rules" is trafilatura's body with the furniture rules
of the item pipeline applied to its lines (what using it as the generic body route would give).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from scrapy.http import HtmlResponse

from gmwcrawler.extract import extract_article_page
from gmwcrawler.extract.text import parse_beijing_time
from tests.replica import render
from tests.replica.model import Site

REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
FIELDS = ("title", "publish_time", "source", "editor", "body")


def pages(articles: int) -> list[dict]:
    site = Site(articles, seed=3)
    out = []
    for key in [f"i{i}" for i in range(articles)] + ["seed"]:
        art = site.article(key)
        out.append({"url": art.url, "html": render.article_page(site, art, 1).encode("utf-8"), "title": art.title,
                    "publish_time": art.published.strftime("%Y-%m-%d %H:%M"), "source": art.source,
                    "editor": art.truth()["editor"], "body": "\n".join(art.pages[0])})
    old = (REAL / "2012-09-24_content_5189326_3_old_template.html").read_bytes()
    body = re.search(r"<p>　　(早前曾有传闻.*?)</p>", old.decode("utf-8")).group(1)
    out.append({"url": "https://ent.gmw.cn/2012-09/24/content_5189326_3.htm", "html": old,
                "title": "曝谢贤李小龙合影四哥帅过谢霆锋", "publish_time": "2012-09-24 15:15", "source": "7706娱乐网",
                "editor": "刘畅文化", "body": body})
    return out


def ours(page: dict) -> dict:
    found = extract_article_page(HtmlResponse(url=page["url"], body=page["html"]))
    return {"title": found.title, "publish_time": found.publish_time, "source": found.source, "editor": found.editor,
            "body": "\n".join(found.paragraphs)}


def trafilatura_extract(page: dict) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(page["html"].decode("utf-8"), url=page["url"], with_metadata=True)
    if doc is None:
        return {}
    return {"title": doc.title, "publish_time": doc.date, "source": None, "editor": doc.author, "body": doc.text}


def trafilatura_rules_extract(page: dict) -> dict:
    """trafilatura's body, less the lines the item pipeline's furniture rules drop (share prompts, …)."""
    from gmwcrawler.extract.furniture import LINE_RE

    found = trafilatura_extract(page)
    lines = [line for line in (found.get("body") or "").split("\n") if line.strip() and not LINE_RE.match(line.strip())]
    return {**found, "body": "\n".join(lines)}


def gne_extract(page: dict) -> dict:
    from gne import GeneralNewsExtractor

    found = GeneralNewsExtractor().extract(page["html"].decode("utf-8"))
    return {"title": found.get("title"), "publish_time": found.get("publish_time"), "source": None,
            "editor": found.get("author"), "body": found.get("content")}


def _minute(value: str | None) -> str | None:
    moment = parse_beijing_time(value or "")
    return moment.strftime("%Y-%m-%d %H:%M") if moment else None


def _f1(got: str | None, want: str) -> float:
    norm = lambda s: re.sub(r"\s+", "", s or "")
    g, w = Counter(norm(got)), Counter(norm(want))
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def score(found: dict, page: dict) -> dict[str, float]:
    clean = lambda s: (s or "").strip()
    return {
        "title": float(clean(found.get("title")) == page["title"]),
        "publish_time": float(_minute(found.get("publish_time")) == page["publish_time"]),
        "source": float(clean(found.get("source")) == page["source"]),
        "editor": float(clean(found.get("editor")) == page["editor"]),
        "body": _f1(found.get("body"), page["body"]),
    }


def run(articles: int, transform: str | None = None) -> dict:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    corpus = pages(articles)
    if transform:
        from tests.redesign import redesign

        corpus = [{**p, "html": redesign(p["html"], transform)} for p in corpus]
    results = {}
    extractors = (("gmwcrawler", ours), ("trafilatura", trafilatura_extract),
                  *((("trafilatura+rules", trafilatura_rules_extract),) if transform else ()), ("gne", gne_extract))
    for name, extract in extractors:
        try:
            extract(corpus[0])  # imports and caches outside the timing
        except ImportError as exc:
            print(f"{name} not measured ({exc}): .venv/bin/pip install -r bench/requirements.txt", file=sys.stderr)
            continue
        started = time.process_time()
        found = [extract(p) for p in corpus]
        cpu = time.process_time() - started
        scores = [score(f, p) for f, p in zip(found, corpus)]
        results[name] = {
            "cpu_ms_per_page": round(cpu / len(corpus) * 1000, 3),
            **{field: round(sum(s[field] for s in scores) / len(scores), 4) for field in FIELDS},
        }
    return {"pages": len(corpus), "redesign": transform, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--redesign", default=None, help="a transformation of tests/redesign.py, e.g. rename_both")
    args = parser.parse_args()
    print(json.dumps(run(args.articles, args.redesign), indent=1))


if __name__ == "__main__":
    main()
