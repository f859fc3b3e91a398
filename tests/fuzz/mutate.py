"""Ways a page arrives broken: what a truncated download, a sloppy CMS or an attacker produce (issue #17).

Each mutation takes the page's bytes and a random source and returns new bytes; `mutate` picks one.
The same functions drive the hypothesis test and the seeded 20,000-mutant run of tests/test_fuzz.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
# a real page's URL for each saved page: extraction reads ids and page numbers from it
URLS = {
    "2012-08-10_e_content_4763470_p1of4_old_template.html": "https://e.gmw.cn/2012-08/10/content_4763470.htm",
    "2012-09-24_content_5189326_3_old_template.html": "https://ent.gmw.cn/2012-09/24/content_5189326_3.htm",
    "2012-10-21_e_content_5439435_old_template_link_grid.html": "https://e.gmw.cn/2012-10/21/content_5439435.htm",
    "2012-11-26_e_content_5804759_p1of5_old_template.html": "https://e.gmw.cn/2012-11/26/content_5804759.htm",
    "2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html": "https://politics.gmw.cn/2019-04/18/content_32754452.htm",
    "2024-05-13_politics_content_37319243_browser_saved.html": "https://politics.gmw.cn/2024-05/13/content_37319243.htm",
}
LISTING_URL = "https://politics.gmw.cn/node_9840.htm"


def real_pages() -> dict[str, bytes]:
    return {name: (REAL / name).read_bytes() for name in URLS}


def _span(data: bytes, rng: random.Random, longest: int = 2000) -> tuple[int, int]:
    start = rng.randrange(len(data) + 1)
    return start, min(len(data), start + rng.randint(1, longest))


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def overwrite(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 50)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def delete(data: bytes, rng: random.Random) -> bytes:
    start, end = _span(data, rng)
    return data[:start] + data[end:]


def repeat(data: bytes, rng: random.Random) -> bytes:
    start, end = _span(data, rng)
    return data[:end] + data[start:end] * rng.randint(1, 20) + data[end:]


def unclose(data: bytes, rng: random.Random) -> bytes:
    """Closing tags left out, as a CMS that cuts a template does."""
    parts = data.split(b"</")
    keep = [parts[0]]
    for part in parts[1:]:
        keep.append(part.split(b">", 1)[-1] if rng.random() < 0.3 else b"</" + part)
    return b"".join(keep)


def _insert(data: bytes, rng: random.Random, what: bytes) -> bytes:
    # inside the body's text where possible: after the first '>' that follows a random position
    at = data.find(b">", rng.randrange(len(data) + 1))
    at = len(data) if at < 0 else at + 1
    return data[:at] + what + data[at:]


def nul_bytes(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 10)):
        data = _insert(data, rng, b"\x00" * rng.randint(1, 3))
    return data


def control_chars(data: bytes, rng: random.Random) -> bytes:
    """Characters pasted from word processors: C0 controls, DEL, C1 controls encoded as UTF-8."""
    pool = [bytes([c]) for c in (*range(1, 9), 11, 12, *range(14, 32), 127)] + [chr(c).encode() for c in range(0x80, 0xA0)]
    for _ in range(rng.randint(1, 10)):
        data = _insert(data, rng, b"<p>x" + rng.choice(pool) + b"y</p>")
    return data


def bad_hrefs(data: bytes, rng: random.Random) -> bytes:
    hrefs = [b"http://[2001:db8::1", b"http://[::1]x/", b"https://a b.gmw.cn/\x01", b"http://%zz/", b"http://:999999/",
             b"javascript:alert(1)", b"", b"#", b"//", b"http://\xff\xfe/", b"content_\x00.htm", b"http://[v1.x]/"]
    for _ in range(rng.randint(1, 5)):
        href = rng.choice(hrefs)
        data = _insert(data, rng, b'<p><a href="' + href + b'">link</a><img src="' + href + b'"></p>')
    return data


def bad_tags(data: bytes, rng: random.Random) -> bytes:
    tags = [b"<:a>x</:a>", b"<a:>x</a:>", b"<1p>x", b"<p\x00>x</p>", b"<\xff\xfe>", b"< p>", b"<p:x:y>z</p:x:y>",
            b"<svg><foreignObject><p>x</p></foreignObject></svg>", b"<math><mi>x</mi></math>", b"<!--", b"<![CDATA[x",
            b"<?xml x?>", b"&#0;&#x1;&#xD800;&#1114112;&#xFFFE;", b"<p title='\x01'>x</p>"]
    for _ in range(rng.randint(1, 5)):
        data = _insert(data, rng, rng.choice(tags))
    return data


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([300, 3000, 20000])
    return _insert(data, rng, b"<div><span>" * depth + b"deep" + b"</span></div>" * (depth // 2))


def long_line(data: bytes, rng: random.Random, size: int | None = None) -> bytes:
    size = size or rng.choice([100_000, 1_000_000])
    filler = rng.choice([b"\xe5\x85\x89", b"a", b"&nbsp;", b"<b>"])
    return _insert(data, rng, b"<p>" + filler * (size // len(filler)) + b"</p>")


def wrong_charset(data: bytes, rng: random.Random) -> bytes:
    """Re-encoded while the page still declares its charset, or the declaration changed."""
    text = data.decode("utf-8", "replace")
    choice = rng.randrange(3)
    if choice == 0:
        return text.encode("gb18030", "replace")
    if choice == 1:
        return text.encode("utf-16")
    return data.replace(b"utf-8", b"iso-2022-jp").replace(b"UTF-8", b"x-unknown-charset")


def binary(data: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 100, 50_000]))


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    f.__name__: f for f in (truncate, overwrite, delete, repeat, unclose, nul_bytes, control_chars, bad_hrefs,
                            bad_tags, deep_nesting, long_line, wrong_charset, binary)
}


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> tuple[bytes, list[str]]:
    """One to three mutations in a row, the cheap ones more often than the costly ones."""
    names = []
    for _ in range(rounds or rng.randint(1, 3)):
        name = rng.choices(list(MUTATIONS), weights=[3, 3, 3, 2, 2, 2, 3, 3, 3, 1, 1, 1, 1])[0]
        data = MUTATIONS[name](data, rng)
        names.append(name)
    return data, names
