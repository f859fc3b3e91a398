"""The seen-store: which articles this crawl (and earlier crawls) already stored.

Pluggable (GMW_SEEN_STORE): `memory` for one run, `sqlite` (the embedded default,
survives restarts), `redis` in distributed mode. The decision "is this item
new, an update, or a duplicate of something stored?" is made and recorded in one atomic
step, so two items racing for the same article cannot both be stored.

The Redis store (gmwcrawler.distributed.store) builds on the records and verdicts here, and the store a
crawl uses (gmwcrawler.incremental.crawl_store) on both, so imports run crawl_store → distributed → store.
"""

from .base import Decision, Record, SeenStore, StoredInfo, StoreUnavailable, Verdict

__all__ = ["Decision", "Record", "SeenStore", "StoreUnavailable", "StoredInfo", "Verdict"]
