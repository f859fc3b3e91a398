"""What earlier runs know, and what follows from it: the seen-store (`store`: memory, SQLite; the Redis one
is gmwcrawler.distributed.store), an article's identity (`identity`), when a known page is asked again
(`revisit`), the store a crawl uses (`crawl_store`), the downloader middlewares that ask it and the
request dupe filter (`middlewares`, `dupefilter`).

This module imports nothing: `store` and `identity` sit below gmwcrawler.distributed, which builds on them,
and the rest above it (tests/test_imports.py)."""
