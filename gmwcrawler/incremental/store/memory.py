from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from .base import BacklogEntry, FailedFetch, LocalSeenStore, Record, StoredInfo, Validators, _Row


class MemorySeenStore(LocalSeenStore):
    """One run only: forgotten when the process ends."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self._lock = threading.RLock()
        self._rows: dict[str, _Row] = {}
        self._publish: dict[str, str] = {}
        self._by_hash: dict[str, str] = {}
        self._bands: dict[str, set[str]] = defaultdict(set)
        self._alt: dict[str, list[str]] = defaultdict(list)
        self._first: dict[str, float] = {}
        self._steps: dict[str, int] = {}
        self._failed: dict[str, FailedFetch] = {}
        self._validators: dict[str, Validators] = {}
        self._backlog: dict[str, BacklogEntry] = {}

    def transaction(self):
        return self._lock

    def _get(self, key: str) -> _Row | None:
        return self._rows.get(key)

    def _find_content(self, content_hash: str) -> _Row | None:
        key = self._by_hash.get(content_hash)
        return self._rows[key] if key else None

    def _band_candidates(self, bands: list[str]) -> list[_Row]:
        keys = set().union(*(self._bands.get(b, set()) for b in bands))
        return [self._rows[k] for k in sorted(keys)]

    def _put(self, record: Record, duplicate_of: str | None, version: int = 1, changed: list[str] | None = None) -> None:
        self._rows[record.key] = _Row(record.key, record.url, record.content_hash, record.signature.to_bytes(),
                                      self.run_id, duplicate_of, record.revision or None, record.fields or None, version,
                                      delivered=duplicate_of is not None, changed=changed)
        self._publish[record.key] = record.publish_time
        self._first.setdefault(record.key, time.time())
        if duplicate_of is None:
            self._by_hash.setdefault(record.content_hash, record.key)
            for band in record.signature.bands():
                self._bands[band].add(record.key)

    def _add_alt_url(self, key: str, url: str) -> None:
        if url not in self._alt[key]:
            self._alt[key].append(url)

    def alt_urls(self, key: str) -> list[str]:
        return list(self._alt.get(key, []))

    def stored(self, key: str) -> StoredInfo | None:
        row = self._rows.get(key)
        if row is None:
            return None
        return StoredInfo(row.key, row.url, self._publish[key], row.duplicate_of, row.run_id == self.run_id,
                          self._first[key], self._steps.get(key, 0), row.delivered)

    def mark_refreshed(self, key: str, step: int) -> None:
        self._steps[key] = step

    def failed(self, key: str) -> FailedFetch | None:
        return self._failed.get(key)

    def put_failed(self, failed: FailedFetch) -> None:
        self._failed[failed.key] = failed

    def validators(self, url: str) -> Validators | None:
        return self._validators.get(url)

    def put_validators(self, url: str, validators: Validators) -> None:
        self._validators[url] = validators

    def __len__(self) -> int:
        return sum(1 for row in self._rows.values() if row.duplicate_of is None)

    keeps_backlog = True

    def confirm(self, delivered: Iterable[str], resolved: Iterable[str]) -> None:
        with self._lock:
            for key in delivered:
                row = self._rows.get(key)
                if row is not None and not row.delivered:
                    self._rows[key] = dataclasses.replace(row, delivered=True, changed=None)
            for key in resolved:
                self._backlog.pop(key, None)

    def add_backlog(self, entries: Iterable[BacklogEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._backlog.setdefault(entry.key, entry)

    def backlog(self) -> list[BacklogEntry]:
        return list(self._backlog.values())

    def backlogged_before(self, key: str) -> bool:
        entry = self._backlog.get(key)
        return entry is not None and entry.run_id != self.run_id
