"""Request fingerprints in Redis: a set (as scrapy-redis) or a Bloom filter in a plain
Redis string (SETBIT; no Redis modules), sized for a stated false-positive rate.

A Bloom filter's false positive silently skips a request, so its size is chosen for
GMW_BLOOM_CAPACITY URLs at GMW_BLOOM_ERROR_RATE, and the measured rate is in bench/.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BloomParams:
    bits: int
    hashes: int

    @classmethod
    def for_capacity(cls, capacity: int, error_rate: float) -> BloomParams:
        bits = math.ceil(-capacity * math.log(error_rate) / (math.log(2) ** 2))
        hashes = max(1, round(bits / capacity * math.log(2)))
        if bits > 2**32:
            raise ValueError(f"a Bloom filter of {bits} bits exceeds a Redis string (512 MiB)")
        return cls(bits, hashes)

    def offsets(self, fingerprint: str) -> list[int]:
        """k bit offsets by double hashing (Kirsch-Mitzenmacher) of the fingerprint."""
        digest = hashlib.blake2b(fingerprint.encode("ascii"), digest_size=16).digest()
        h1, h2 = int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little") | 1
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    @property
    def bytes(self) -> int:
        return math.ceil(self.bits / 8)
