"""Extraction CPU per page, this checkout against an earlier revision, side by side (issue #11:
"extraction CPU per page stays within 10 % of today's").

    .venv/bin/python -m bench.extraction_vs_revision 6293880 [--rounds 10]

Both extractors read the same bytes: the current replica's pages (200 articles, every template)
and the real pages of tests/fixtures/real. The two run alternately in fresh processes, so a noisy
machine slows both alike; the report gives the ratio of the minima and of the medians.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TIMER = """
import pickle, sys, time
from scrapy.http import HtmlResponse
from gmwcrawler.extract import extract_article_page
bodies = pickle.load(open(sys.argv[1], "rb"))
for url, body in bodies[:50]:
    extract_article_page(HtmlResponse(url=url, body=body))
best = float("inf")
for _ in range(5):
    start = time.process_time()
    for url, body in bodies:
        extract_article_page(HtmlResponse(url=url, body=body))
    best = min(best, time.process_time() - start)
print(best / len(bodies) * 1000)
"""


def pages() -> list[tuple[str, bytes]]:
    from tests.replica import render
    from tests.replica.model import Site

    site = Site(200, seed=2)
    out = []
    for i in range(200):
        art = site.article(f"i{i}")
        out += [(art.page_url(p), render.article_page(site, art, p).encode()) for p in range(1, len(art.pages) + 1)]
    for path in sorted((ROOT / "tests" / "fixtures" / "real").glob("*.html")):
        out.append(("https://politics.gmw.cn/2024-05/13/content_37319243.htm", path.read_bytes()))
    return out


def ms_per_page(tree: Path, bodies: Path) -> float:
    done = subprocess.run([sys.executable, "-c", TIMER, str(bodies)], cwd=tempfile.gettempdir(),
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, check=True)
    return float(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.revision], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            bodies = Path(tmp) / "pages.pkl"
            sample = pages()
            bodies.write_bytes(pickle.dumps(sample))
            rows = [(ms_per_page(old, bodies), ms_per_page(ROOT, bodies)) for _ in range(args.rounds)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    then, now = [r[0] for r in rows], [r[1] for r in rows]
    print(f"{len(sample)} pages, {args.rounds} rounds")
    print(f"ms/page  {args.revision}: min {min(then):.3f} median {statistics.median(then):.3f}   "
          f"this checkout: min {min(now):.3f} median {statistics.median(now):.3f}")
    print(f"ratio    min {min(now) / min(then):.3f}   median {statistics.median(now) / statistics.median(then):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
