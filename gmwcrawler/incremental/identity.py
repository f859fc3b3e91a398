"""What makes two records the same article: identity keys, content hashes, MinHash.

Used by the de-duplicating pipeline and by the incremental-crawl middleware, so one
crawl, a later scheduled crawl and every worker agree on "the same article".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from w3lib.url import canonicalize_url

from gmwcrawler.extract.urls import ARTICLE_PATH_RE

# docs/evidence.md: the content id is one global sequence across gmw.cn subdomains
# (politics., news., www., share. …), but m.gmw.cn numbers its articles on its own.
_OWN_ID_SEQUENCE = {"m.gmw.cn"}
_NOT_TEXT_RE = re.compile(r"[\W_]+", re.UNICODE)
NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: pairs above ~0.5 Jaccard become candidates, then are checked exactly
ROWS = NUM_PERM // BANDS
SHINGLE = 4
_MINHASH_SEED = 20261123
# MinHash with 64 hash functions of the multiply-shift family ((a·x + b) mod 2**64, high 32
# bits; a odd): three numpy operations per shingle and function, no modulo — datasketch's
# mod-Mersenne-prime permutations cost twice the CPU here, and datasketch imports scipy (~60 MB
# per worker; bench/README.md). Signatures from before this change (2026-11) do not compare.
_PERMUTATIONS = np.random.RandomState(_MINHASH_SEED)
_PERM_A = _PERMUTATIONS.randint(0, 1 << 63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _PERMUTATIONS.randint(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the high bits are well mixed
_DTYPE = np.uint32  # 64 hash values = 256 bytes per article


def _shingle_hashes(text: str) -> np.ndarray:
    """A 64-bit hash of every character 4-gram, computed on the code points in numpy.

    Repeated shingles are kept: a minimum does not change with repeats. (Was: CRC-32 of each
    distinct shingle in a Python loop, the slowest step of the pipelines; bench/README.md.)"""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(points) < SHINGLE:
        points = np.pad(points, (0, SHINGLE - len(points)))
    count = len(points) - SHINGLE + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(SHINGLE):
        hashes = (hashes ^ points[offset : offset + count]) * _SHINGLE_MULTIPLIER  # wraps modulo 2**64
    return hashes


def identity_key(url: str) -> str:
    """One key per article whatever the URL variant: scheme, politics./www./news./share. host,
    `_N` page suffix, query string and fragment do not matter."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        m = ARTICLE_PATH_RE.search(parts.path)
        if m and (host == "gmw.cn" or host.endswith(".gmw.cn")):
            return f"{host}:{m.group(1)}" if host in _OWN_ID_SEQUENCE else f"gmw:{m.group(1)}"
        url = canonicalize_url(url, keep_fragments=False)
    except ValueError:  # no URL at all ("http://[", a lone surrogate): the text itself
        pass
    return "url:" + url.split("://", 1)[-1].split("?", 1)[0]


def normalised_body(content: str) -> str:
    """The body with punctuation, spacing and case gone: what 'the same text' compares."""
    return _NOT_TEXT_RE.sub("", content).lower()


def content_hash(content: str) -> str:
    # surrogatepass: a lone surrogate (only a hostile queue entry carries one) hashes instead of raising
    return hashlib.blake2b(normalised_body(content).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# What makes a new version of a stored article: a correction of any of these fields.
# Not `related` (filled by gmw's script, not part of the article) nor what the crawl adds.
REVISION_FIELDS = ("title", "publish_time", "source", "editor", "author", "keywords", "content", "images", "videos")


def field_hashes(item: Mapping[str, Any]) -> dict[str, str]:
    """A short hash of each REVISION_FIELDS value: what the seen-store keeps to say which fields changed."""
    return {name: hashlib.blake2b(json.dumps(item.get(name), ensure_ascii=False, sort_keys=True).encode(
        "utf-8", "surrogatepass"), digest_size=8).hexdigest() for name in REVISION_FIELDS}


def revision_hash(hashes: Mapping[str, str]) -> str:
    """One hash of all the field hashes: equal means "the same version"."""
    return hashlib.blake2b("|".join(hashes.get(n, "") for n in REVISION_FIELDS).encode(), digest_size=16).hexdigest()


def changed_fields(old: Mapping[str, str] | None, new: Mapping[str, str]) -> list[str]:
    """Fields whose hash differs, in REVISION_FIELDS order. Stored before field hashes were kept
    (old: None): the body is the one field known to have been compared. The Lua of
    gmwcrawler/distributed/store.py follows the same rule (tests/test_revisits.py checks both)."""
    if not old:
        return ["content"]
    return [n for n in REVISION_FIELDS if old.get(n) != new.get(n)]


@dataclass(frozen=True)
class Signature:
    """MinHash of a body's character 4-grams, and its LSH band keys."""

    hashvalues: np.ndarray

    @classmethod
    def of(cls, content: str) -> Signature:
        hashes = _shingle_hashes(normalised_body(content))
        permuted = (hashes[:, None] * _PERM_A + _PERM_B) >> np.uint64(32)
        return cls(permuted.min(axis=0).astype(_DTYPE))

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        return cls(np.frombuffer(data, dtype=_DTYPE))

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype(_DTYPE).tobytes()

    def bands(self) -> list[str]:
        return [
            f"{b}:{hashlib.blake2b(self.hashvalues[b * ROWS:(b + 1) * ROWS].tobytes(), digest_size=8).hexdigest()}"
            for b in range(BANDS)
        ]

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two bodies' shingle sets (the MinHash estimator)."""
        return float(np.mean(self.hashvalues == other.hashvalues))
