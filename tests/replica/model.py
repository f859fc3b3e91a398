"""The replica's content: deterministic articles, listings and ground truth.

Everything is computed from ``(seed, index)`` so the replica scales from a handful
of articles to 100,000 without holding pages in memory, and so the ground truth
(what a perfect extractor returns) is known for every article.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "real"

# Real 时政 nodes (docs/evidence.md); labels as recent crawlers saw them.
NODES: dict[int, str] = {
    9840: "国内",
    9844: "要闻",
    9831: "权威发布",
    9828: "政策解读",
    9826: "人事任免",
    10495: "滚动播报",
}
NODE_IDS = list(NODES)
# node_10495 (滚动播报) is the replica's "listing that pages forever".
ENDLESS_NODE = 10495
PAGE_SIZE = 20

BASE_ID = 38_900_000
ID_STEP = 7
START = datetime(2026, 11, 20, 18, 0, 0)
SOURCES = ["光明网", "新华社", "央视新闻客户端", "人民日报", "光明日报", "中国新闻网", "经济日报"]
EDITORS = ["邢彬", "张佳兴", "王宇", "李政葳", "刘冰雅", "陈晨", "赵宇"]
KEYWORDS = ["中国", "中亚", "合作", "贸易", "经济", "发展", "改革", "民生", "科技", "航天", "安全", "生态"]
RECOMMENDED_POOL = 8  # 推荐阅读 / 视觉焦点 targets: exist, but must never be crawled


def _seed_text_lines() -> list[str]:
    return (FIXTURES / "seed_article_2026-01-20_page_text.txt").read_text("utf-8").splitlines()


@lru_cache(maxsize=1)
def seed_article_text() -> dict:
    """The real 2026-01-20 article as a browser showed it (tests/fixtures/real/)."""
    lines = _seed_text_lines()
    crumbs = next(i for i, line in enumerate(lines) if line.startswith("首页>"))
    title = next(line.strip() for line in lines[crumbs + 1 :] if line.strip())
    meta_i = next(i for i, line in enumerate(lines) if line.startswith("来源:"))
    m = re.match(r"来源:(.+?)(\d{4}-\d{2}-\d{2} \d{2}:\d{2})$", lines[meta_i])
    end = next(i for i, line in enumerate(lines) if line.startswith("[ 责编:"))
    paragraphs = [line.strip() for line in lines[meta_i + 1 : end] if line.strip()]
    editor = re.search(r"责编:(\S+)", lines[end]).group(1)
    focus_i = lines.index("视觉焦点")
    focus = [line.strip(" •") for line in lines[focus_i + 1 : focus_i + 6] if line.strip(" •")][:2]
    rec_i = lines.index("推荐阅读")
    recommended = [
        (lines[j].strip(), lines[j + 1].strip())
        for j in range(rec_i + 1, len(lines) - 1, 2)
        if lines[j].strip()
    ]
    return {
        "title": title,
        "source": m.group(1),
        "time": m.group(2),
        "paragraphs": paragraphs,
        "editor": editor,
        "focus": focus,
        "recommended": recommended,
    }


@lru_cache(maxsize=1)
def _clauses() -> list[str]:
    """Clauses of the real seed article and the real headlines; the replica's sentences are
    random combinations of them, so two generated articles share words, not paragraphs."""
    text = "".join(seed_article_text()["paragraphs"]) + "，".join(_headlines())
    return sorted({c.strip() for c in re.split(r"[，,。；;：:？?！!“”\s]", text) if len(c.strip()) >= 4})


def _sentence(rng: random.Random) -> str:
    return "，".join(rng.sample(_clauses(), rng.randint(2, 4))) + "。"


@lru_cache(maxsize=1)
def _headlines() -> list[str]:
    out = []
    for line in (FIXTURES / "politics_node_9840_links_2026-05.txt").read_text("utf-8").splitlines():
        m = re.search(r'"title": "(.*)",?\s*$', line)
        if m:
            out.append(m.group(1).replace('\\"', '"'))
    return out


@dataclass
class Article:
    """One article of the replica and its ground truth."""

    key: str  # "i<index>", "pool<k>", "special:<kind>", "seed"
    article_id: int
    host: str
    published: datetime
    node: int
    variant: str  # "A", "B", "old" or "gallery"
    title: str
    source: str
    editor: str
    keywords: list[str]
    pages: list[list[str]]  # paragraphs per page
    images: list[dict] = field(default_factory=list)  # {url, caption, page, lazy}
    videos: list[str] = field(default_factory=list)
    related: list[Ref] = field(default_factory=list)
    kind: str = "regular"
    listed: bool = True

    @cached_property
    def url(self) -> str:
        return page_url(self.host, self.published, self.article_id, 1)

    def page_url(self, page: int) -> str:
        return page_url(self.host, self.published, self.article_id, page)

    @property
    def channel(self) -> list[str]:
        return ["时政频道", NODES[self.node]]

    @property
    def time_text(self) -> str:
        return self.published.strftime("%Y-%m-%d %H:%M")

    def truth(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "listed": self.listed,
            "url": self.url,
            "article_id": str(self.article_id),
            "title": self.title,
            "publish_time": self.published.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "source": self.source,
            "editor": self.editor if self.variant != "gallery" else "",  # no public material shows its credit
            "channel": self.channel if self.variant in ("A", "old") else [NODES[self.node]],
            "keywords": self.keywords,
            "content": [p for page in self.pages for p in page],
            "images": [{"url": im["url"], "caption": im["caption"]} for im in self.images],
            "videos": self.videos,
            "related": [{"url": r.url, "title": r.title} for r in self.related],
            "page_count": len(self.pages),
        }


@dataclass
class Ref:
    url: str
    title: str


def beijing_now() -> datetime:
    """The present as the site's pages write it (Beijing time, no zone)."""
    return (datetime.now(UTC) + timedelta(hours=8)).replace(tzinfo=None, microsecond=0)


def page_url(host: str, published: datetime, article_id: int, page: int) -> str:
    suffix = "" if page == 1 else f"_{page}"
    return f"https://{host}/{published:%Y-%m}/{published:%d}/content_{article_id}{suffix}.htm"


# Special articles: each exercises one thing a real site does wrong. Those whose
# kind is in EXPECTED_SPECIALS must still become items.
SPECIAL_KINDS = [
    "soft404", "not_found", "flaky500", "unavailable503", "slow", "truncated",
    "redirect_offsite", "redirect_loop", "oversized", "gb18030", "empty", "malformed",
    "dup_a", "dup_b", "robots_forbidden", "hostile",
]
EXPECTED_SPECIALS = {"flaky500", "slow", "gb18030", "malformed", "dup_a", "dup_b", "hostile"}
SPECIAL_BASE_ID = 39_000_001
SEED_ID = 38_547_123  # invented: the real page's id was not saved


class Site:
    def __init__(self, articles: int = 60, seed: int = 1) -> None:
        self.n = articles
        self.seed = seed
        self.fresh = 0  # articles published since start (negative indices: newer than article 0)
        self.published_at: dict[int, datetime] = {}  # of those: when /__replica__/publish published them
        self.edits: dict[str, datetime] = {}  # article key -> when /__replica__/edit corrected it
        self.changed_at = START  # the newest publication or correction: listings' Last-Modified
        self._index()

    def _index(self) -> None:
        self.by_node: dict[int, list[int]] = {node: [] for node in NODE_IDS}
        for i in range(-self.fresh, self.n):
            if self.is_listed(i):
                self.by_node[NODE_IDS[i % len(NODE_IDS)]].append(i)

    def publish(self, count: int) -> list[str]:
        """Publish `count` new articles, newer than every existing one, stamped with the present
        time (Beijing), as a newsroom publishes; returns their URLs."""
        start = -self.fresh
        now = beijing_now()
        for i in range(start - count, start):
            self.published_at[i] = now
        self.fresh += count
        self.changed_at = now
        self._index()
        return [self._article(f"i{i}").url for i in range(start - count, start)]

    def edit(self, key: str) -> Article:
        """Correct a published article (title and a last paragraph change), as editors do in an
        article's first hours; its pages and Last-Modified change."""
        self.edits[key] = self.changed_at = beijing_now()
        self._article.cache_clear()
        return self._article(key)

    # -- identity ---------------------------------------------------------------
    @staticmethod
    def is_listed(i: int) -> bool:
        return i % 10 != 9  # every tenth article is reachable only through 相关阅读

    def index_of(self, article_id: int) -> str | None:
        if SPECIAL_BASE_ID <= article_id < SPECIAL_BASE_ID + len(SPECIAL_KINDS):
            return "special:" + SPECIAL_KINDS[article_id - SPECIAL_BASE_ID]
        if article_id == SEED_ID:
            return "seed"
        offset = BASE_ID - article_id
        if offset % ID_STEP:
            return None
        i = offset // ID_STEP
        if -self.fresh <= i < self.n:
            return f"i{i}"
        if self.n <= i < self.n + RECOMMENDED_POOL:
            return f"pool{i - self.n}"
        return None

    def article(self, key: str) -> Article:
        return self._article(key)

    @lru_cache(maxsize=4096)  # noqa: B019 - one Site lives as long as the replica process
    def _article(self, key: str) -> Article:
        if key == "seed":
            return self._seed()
        if key.startswith("special:"):
            return self._special(key.split(":", 1)[1])
        if key.startswith("pool"):
            art = self._generate(self.n + int(key[4:]))
            art.key, art.kind, art.listed, art.related = key, "recommended_only", False, []
            return art
        return self._generate(int(key[1:]))

    def _rng(self, i: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + i)

    def _published(self, i: int) -> datetime:
        if i in self.published_at:
            return self.published_at[i]
        return START - timedelta(minutes=37 * i, seconds=(13 * i) % 60)

    @staticmethod
    def _host(i: int) -> str:
        # A few 时政 listings point at articles on another gmw.cn subdomain.
        return "news.gmw.cn" if i % 25 == 24 else "politics.gmw.cn"

    def _title(self, i: int) -> str:
        headline = random.Random(f"{self.seed}/title/{i}").choice(_headlines())
        return f"{headline}（{i + 1}）"

    def _generate(self, i: int) -> Article:
        rng = self._rng(i)
        n_pages = rng.randint(2, 4) if i % 8 == 3 else 1
        pages = [
            ["".join(_sentence(rng) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(3, 6))]
            for _ in range(n_pages)
        ]
        pages[-1].append(f"（记者 {rng.choice(EDITORS)} {rng.choice(EDITORS)}）")
        published = self._published(i)
        art = Article(
            key=f"i{i}",
            article_id=BASE_ID - i * ID_STEP,
            host=self._host(i),
            published=published,
            node=NODE_IDS[i % len(NODE_IDS)],
            variant="B" if i % 9 == 4 else ("old" if i % 31 == 7 else ("gallery" if i % 37 == 11 else "A")),
            title=self._title(i),
            source=rng.choice(SOURCES),
            editor=rng.choice(EDITORS),
            keywords=rng.sample(KEYWORDS, rng.randint(2, 4)),
            pages=pages,
            listed=self.is_listed(i),
        )
        if art.key in self.edits:
            art.title += "（更新）"
            pages[-1].append(f"（本文于{self.edits[art.key]:%H:%M}更正）")
        if art.source == "光明日报":  # the print credit line ends the 光明日报 template's body (kept: README)
            pages[-1].append(f"《光明日报》（{published:%Y年%m月%d日} {i % 12 + 1:02d}版）")
        if i % 5 == 0 or art.variant == "gallery":  # a gallery shows a picture on every page
            for page in range(1, n_pages + 1):
                art.images.append({
                    "url": f"https://img.gmw.cn/attachement/jpg/site2/{published:%Y%m%d}/{art.article_id}_{page}.jpg",
                    "caption": f"图为{rng.choice(_clauses())}",
                    "page": page,
                    "lazy": i % 10 == 0,
                })
        if i % 12 == 6 and art.variant != "gallery":
            art.videos.append(f"https://v.gmw.cn/video/{published:%Y%m%d}/{art.article_id}.mp4")
        related: list[int] = []
        if i % 10 == 8 and i + 1 < self.n:
            related.append(i + 1)  # the unlisted article after it
        if i % 3 == 0 and i + 5 < self.n and self.is_listed(i + 5):
            related.append(i + 5)
        if not art.listed and i >= 4:
            related.append(i - 4)
        art.related = [self._ref(j) for j in related]
        return art

    def _ref(self, j: int) -> Ref:
        published = self._published(j)
        return Ref(page_url(self._host(j), published, BASE_ID - j * ID_STEP, 1), self._title(j))

    def pool_refs(self) -> list[Ref]:
        refs = []
        for k in range(RECOMMENDED_POOL):
            art = self._article(f"pool{k}")
            refs.append(Ref(art.url, art.title))
        return refs

    def _seed(self) -> Article:
        seed = seed_article_text()
        return Article(
            key="seed",
            article_id=SEED_ID,
            host="politics.gmw.cn",
            published=datetime.strptime(seed["time"], "%Y-%m-%d %H:%M"),
            node=9840,
            variant="A",
            title=seed["title"],
            source=seed["source"],
            editor=seed["editor"],
            keywords=["中国", "中亚", "合作"],
            pages=[list(seed["paragraphs"])],
            kind="seed",
        )

    def _special(self, kind: str) -> Article:
        number = SPECIAL_KINDS.index(kind)
        base = self._generate(10_000_000 + number)
        base.key = f"special:{kind}"
        base.kind = kind
        base.article_id = SPECIAL_BASE_ID + number
        base.published = START - timedelta(minutes=number)
        base.host = "politics.gmw.cn"
        base.listed = True
        base.related = []
        base.variant = "A"
        base.node = 9840  # specials are listed on node_9840
        base.pages = [base.pages[0]]
        base.images = [im for im in base.images if im["page"] == 1]
        if kind == "dup_b":
            twin = self._special("dup_a")
            base.title, base.pages, base.source, base.editor = twin.title, twin.pages, twin.source, twin.editor
            base.keywords, base.images, base.videos = twin.keywords, twin.images, twin.videos
        return base

    # -- listings ------------------------------------------------------------------
    def specials(self) -> list[Article]:
        return [self._article("special:" + k) for k in SPECIAL_KINDS]

    def listing(self, node: int, page: int) -> tuple[list[tuple[str, str, str]], bool] | None:
        """Entries (url, title, date) of one listing page and whether a next page exists."""
        if node not in self.by_node:
            return None
        entries: list[tuple[str, str, str]] = []
        if node == 9840:
            for art in self.specials():
                entries.append((art.url, art.title, f"{art.published:%Y-%m-%d}"))
            entries.append(("https://www.example.com/2026-11/20/content_1.htm", "外站链接", "2026-11-20"))
            entries.append(("https://topics.gmw.cn/node_125419.htm", "专题：二十届四中全会", "2026-11-20"))
        for i in self.by_node[node]:
            art = self._article(f"i{i}")
            entries.append((art.url, art.title, f"{art.published:%Y-%m-%d}"))
        if node == 9840:
            seed = self._article("seed")
            entries.append((seed.url, seed.title, f"{seed.published:%Y-%m-%d}"))
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        if page < 1:
            return None
        if page > pages:
            if node != ENDLESS_NODE:
                return None
            return entries[-PAGE_SIZE:], True  # pages forever, repeating its tail
        chunk = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return chunk, page < pages or node == ENDLESS_NODE

    # -- truth -----------------------------------------------------------------------
    def all_articles(self):
        for i in range(-self.fresh, self.n):
            yield self._article(f"i{i}")
        for k in range(RECOMMENDED_POOL):
            yield self._article(f"pool{k}")
        yield from self.specials()
        yield self._article("seed")
