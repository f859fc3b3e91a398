"""The seen-store: which articles this crawl (and earlier crawls) already stored.

Pluggable (GMW_SEEN_STORE): `memory` for one run, `sqlite` (the embedded default,
survives restarts), `redis` in distributed mode (issue #4). The decision "is this item
new, an update, or a duplicate of something stored?" is made and recorded in one atomic
step, so two items racing for the same article cannot both be stored.
"""

from .base import Decision, Record, SeenStore, StoredInfo, StoreUnavailable, Verdict
from .extension import SeenStoreExtension, revisits, seen_store

__all__ = ["Decision", "Record", "SeenStore", "SeenStoreExtension", "StoreUnavailable", "StoredInfo", "Verdict", "revisits", "seen_store"]
