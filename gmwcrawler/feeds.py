"""Local feed files (`-O articles.jsonl`, FEEDS with a path or file:// URI) that hold every item the crawl
counts as delivered, whatever stops the process.

Scrapy's FileFeedStorage writes through a buffered file: up to 8 KiB of items wait in the process until the
buffer fills or the feed is closed, so a kill -9 loses them — while the seen-store has already been told they
were delivered, and the next run would never fetch them again. This storage writes each exporter call through
to the operating system at once: an item is in the file before Scrapy's item_scraped handlers return, and
gmwcrawler.incremental.crawl_store.Deliveries confirms it only later. What docs/design.md ("What survives a stop") promises of it: a killed process loses
no item of a JSON Lines feed (a JSON array feed is left without its closing bracket); a power cut can still
lose what the operating system had not written to disk (no fsync per item).

Set in FEED_STORAGES for "" and "file" (settings.py), Scrapy's documented way to replace a storage.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from scrapy.extensions.feedexport import FileFeedStorage


class _WrittenThrough(io.BufferedWriter):
    """A buffered file (whole writes, as exporters expect) that hands each write to the OS at once."""

    def write(self, data: Any) -> int:
        written = super().write(data)
        self.flush()
        return written


class WriteThroughFileFeedStorage(FileFeedStorage):
    def open(self, spider: Any) -> IO[bytes]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return _WrittenThrough(io.FileIO(self.path, self.write_mode))
