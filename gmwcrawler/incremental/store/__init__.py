"""The seen-store: which articles this crawl (and earlier crawls) already stored.

Pluggable (GMW_SEEN_STORE): `memory` for one run, `sqlite` (the embedded default,
survives restarts), `redis` in distributed mode (issue #4). The decision "is this item
new, an update, or a duplicate of something stored?" is made and recorded in one atomic
step, so two items racing for the same article cannot both be stored.

Its Scrapy side (which store a crawl uses, for whom) is gmwcrawler.incremental.crawl_store, outside this
package: the Redis store (gmwcrawler.distributed) builds on the records and verdicts here,
and the extension builds on both, so imports run seenstore → distributed → seen (issue #16).
"""

from .base import Decision, Record, SeenStore, StoredInfo, StoreUnavailable, Verdict

__all__ = ["Decision", "Record", "SeenStore", "StoreUnavailable", "StoredInfo", "Verdict"]
