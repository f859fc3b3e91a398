"""Markup drift: a field that the site's markup no longer serves the usual way.

Every article counts, per field, the path its value came from (`gmw/extract/<field>/<path>`: a
template such as `a`, `b`, `old2012`, a fallback such as `enp` or `meta`, or `missing`). When gmw.cn
renames a container, the crawl does not crash: the field falls back to the enpproperty comment or
goes missing, and the items quietly get worse. So each run's counts are kept (a JSON file beside the
seen-store; a Redis list in distributed mode) and the run's shares are compared with the earlier
runs': a field whose share of `missing`, or of one fallback path, rose by GMW_DRIFT_THRESHOLD or more
is drift. Runs of a 15-minute timer see a handful of articles, so the newest runs are pooled until
GMW_DRIFT_MIN_ARTICLES articles are judged, against a baseline of at least as many older ones.
A drift stays reported until GMW_DRIFT_HISTORY runs of the new markup have become the baseline.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmwcrawler.extract.article import LANDMARK
from gmwcrawler.extract.generic import GENERIC
from gmwcrawler.extract.listing import TEMPLATE
from gmwcrawler.extract.templates import TEMPLATES

logger = logging.getLogger(__name__)

_PREFIX = "gmw/extract/"
# paths that are a template serving the field as it should (gmwcrawler.extract.templates); `+enp`
# adds the comment's seconds to a template's time. Everything else is a fallback or `missing`.
_TEMPLATE_PATHS = frozenset({"url", LANDMARK, "body", TEMPLATE} | {t.name for t in TEMPLATES if not t.fallback})
_PRIMARY_BY_FIELD = {"keywords": {"enp"}, "author": {"enp", "line"}}  # the comment IS their usual source


def is_fallback(field: str, path: str) -> bool:
    if path == "missing":
        return False
    return path.split("+", 1)[0] not in _TEMPLATE_PATHS and path not in _PRIMARY_BY_FIELD.get(field, ())


def counts_from_stats(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{field: {path: articles}} of one run."""
    out: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        if key.startswith(_PREFIX) and isinstance(value, int):
            field, _, path = key[len(_PREFIX):].partition("/")
            if path and field != "bad_link":
                out.setdefault(field, {})[path] = value
    return out


@dataclass(frozen=True)
class Drift:
    field: str
    path: str
    share: float  # of the judged articles
    baseline: float  # of the baseline's articles
    articles: int
    baseline_articles: int

    def describe(self) -> str:
        what = ("missing" if self.path == "missing" else "read by the generic route (no template found it)"
                if self.path == GENERIC else f"from fallback '{self.path}'")
        return (f"{self.field} {what} in {self.share:.0%} of {self.articles} articles "
                f"(was {self.baseline:.0%} of {self.baseline_articles})")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "path": self.path, "share": round(self.share, 3),
                "baseline": round(self.baseline, 3), "articles": self.articles,
                "baseline_articles": self.baseline_articles}


def _pool(runs: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    pooled: dict[str, dict[str, int]] = {}
    for run in runs:
        for field, paths in run.items():
            bucket = pooled.setdefault(field, {})
            for path, n in paths.items():
                bucket[path] = bucket.get(path, 0) + n
    return pooled


def _is_counts(run: Any) -> bool:
    """A kept run as this module writes it; anything else (a damaged or foreign entry) is skipped."""
    return isinstance(run, dict) and all(
        isinstance(paths, dict) and all(isinstance(n, int) for n in paths.values()) for paths in run.values())


def _articles(counts: dict[str, dict[str, int]]) -> int:
    return max((sum(paths.values()) for paths in counts.values()), default=0)


def judge(current: dict[str, dict[str, int]], history: list[dict[str, dict[str, int]]],
          threshold: float, min_articles: int) -> list[Drift]:
    """Drifts of `current` (plus the newest runs of `history`, oldest first, until min_articles)
    against the older runs. Nothing is judged without min_articles on both sides."""
    recent, older = [current], list(history)
    while _articles(_pool(recent)) < min_articles and older:
        recent.append(older.pop())
    now, before = _pool(recent), _pool(older)
    if _articles(now) < min_articles or _articles(before) < min_articles:
        return []
    found = []
    for field in sorted(set(now) | set(before)):
        total_now, total_before = sum(now.get(field, {}).values()), sum(before.get(field, {}).values())
        if not total_now or not total_before:
            continue
        for path in sorted(set(now.get(field, {})) | set(before.get(field, {}))):
            if path != "missing" and not is_fallback(field, path):
                continue
            share = now.get(field, {}).get(path, 0) / total_now
            baseline = before.get(field, {}).get(path, 0) / total_before
            if share - baseline >= threshold:
                found.append(Drift(field, path, share, baseline, total_now, total_before))
    return found


class FileHistory:
    """Per-run counts in a JSON file beside the seen-store (single mode)."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path, self.keep = path, keep

    def load(self) -> list[dict[str, dict[str, int]]]:
        try:
            runs = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:  # a damaged file must not fail the run: start afresh
            logger.warning("Extraction history %s unreadable (%s); starting a new one", self.path, exc)
            return []
        return [r for r in runs if _is_counts(r)] if isinstance(runs, list) else []

    def append(self, counts: dict[str, dict[str, int]], runs: list[dict[str, dict[str, int]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps((runs + [counts])[-self.keep:], ensure_ascii=False), "utf-8")
        tmp.replace(self.path)


class RedisHistory:
    """Per-run counts in a Redis list shared by the workers of a distributed crawl (newest first)."""

    def __init__(self, client: Any, guard: Any, key: str, keep: int) -> None:
        self.client, self.guard, self.key, self.keep = client, guard, key, keep

    def load(self) -> list[dict[str, dict[str, int]]]:
        runs = []
        for raw in reversed(self.guard(self.client.lrange, self.key, 0, self.keep - 1)):
            try:
                run = json.loads(raw)
            except ValueError:
                continue
            if _is_counts(run):
                runs.append(run)
        return runs

    def append(self, counts: dict[str, dict[str, int]], runs: list[dict[str, dict[str, int]]]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(self.key, json.dumps(counts, ensure_ascii=False))
        pipe.ltrim(self.key, 0, self.keep - 1)
        self.guard(pipe.execute)
