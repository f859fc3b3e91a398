"""The seen-store in Redis: shared by all workers; "decide + mark seen + store the item" is
one Lua step, so an article reaches the shared store exactly once even if a worker dies
between steps.

A kept article is marked pending (`pend`: its changed fields) until the worker's sinks have it
(`confirm`, after Scrapy's item_scraped). A worker killed in between leaves the mark: when another
worker fetches the page again (the lease expired) or a later run does, the article is delivered again
as the same version instead of being judged a duplicate of a row no sink ever received."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis

from gmwcrawler.incremental.identity import REVISION_FIELDS
from gmwcrawler.incremental.store.base import Decision, FailedFetch, Record, SeenStore, StoredInfo, Validators, Verdict

from .connection import Guard, HotScript
from .keys import Keys

logger = logging.getLogger(__name__)
T = TypeVar("T")

# KEYS: article hash, content index, items list, article counter, band sets...
# ARGV: key, url, content hash, signature, publish time, run id, threshold (-1 = off), item JSON ('' = none),
#       article key prefix, revision ('' = compare the body), field hashes JSON, now (epoch seconds),
#       '1' where this worker kept the article earlier in this run (a pending mark then is its own delivery),
#       how many of the newest kept items the list holds, '1' for a refresh fetch (a delivered article of this
#       run is then compared as a revision, not a duplicate_url: seen.base.SeenStore.decide)
# Returns verdict, kept key, kept URL, similarity, and for a kept item its alt URLs (no second round trip),
# version and changed fields (JSON). A kept item's JSON is stored with "version" (and "changed_fields")
# added, as the pipeline adds them; changed fields follow identity.changed_fields.
DECIDE = """
local function put(dup, ver, changed, again)
  redis.call('HSET', KEYS[1], 'url', ARGV[2], 'hash', ARGV[3], 'publish', ARGV[5], 'run', ARGV[6], 'rev', ARGV[10],
             'fh', ARGV[11], 'ver', ver or 1)
  redis.call('HSETNX', KEYS[1], 'first', ARGV[12])
  if dup then
    redis.call('HSET', KEYS[1], 'dup', dup)
    redis.call('HDEL', KEYS[1], 'sig', 'pend')
    redis.call('RPUSH', ARGV[9] .. dup .. ':alt', ARGV[2])
  else
    redis.call('HSET', KEYS[1], 'sig', ARGV[4], 'pend', changed or '')
    redis.call('HDEL', KEYS[1], 'dup')
    for i = 5, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
    redis.call('SET', KEYS[2], ARGV[1], 'NX')
    if ARGV[8] ~= '' and not again then  -- a delivery again: the list has the item from the first time
      local extra = ',"version":' .. (ver or 1)
      if changed then extra = extra .. ',"changed_fields":' .. changed end
      redis.call('RPUSH', KEYS[3], string.sub(ARGV[8], 1, -2) .. extra .. '}')
      redis.call('LTRIM', KEYS[3], -tonumber(ARGV[14]), -1)
    end
  end
end
local function changed_fields(old)
  if not old or old == '' then return '["content"]' end
  local before, after, names = cjson.decode(old), cjson.decode(ARGV[11]), {}
  for _, name in ipairs({FIELDS}) do
    if before[name] ~= after[name] then names[#names + 1] = '"' .. name .. '"' end
  end
  return '[' .. table.concat(names, ',') .. ']'
end
local function url_of(key) return redis.call('HGET', ARGV[9] .. key, 'url') or '' end
local function union(a, b)
  local seen, names = {}, {}
  for _, list in ipairs({cjson.decode(a), cjson.decode(b)}) do
    for _, name in ipairs(list) do
      if not seen[name] then seen[name] = true; names[#names + 1] = name end
    end
  end
  table.sort(names)
  return '["' .. table.concat(names, '","') .. '"]'
end

if redis.call('EXISTS', KEYS[1]) == 1 then
  local e = redis.call('HMGET', KEYS[1], 'url', 'hash', 'run', 'dup', 'rev', 'ver', 'fh', 'pend')
  if e[4] then return {'duplicate_content', e[4], url_of(e[4]), ''} end
  if e[3] == ARGV[6] and (not e[8] or ARGV[13] == '1') and not (ARGV[15] == '1' and not e[8]) then
    return {'duplicate_url', ARGV[1], e[1], ''}
  end
  local same
  if e[5] and e[5] ~= '' and ARGV[10] ~= '' then same = e[5] == ARGV[10] else same = e[2] == ARGV[3] end
  if e[8] then
    -- kept before, never delivered (its worker or run was killed): deliver again as the same version
    local ver, changed = tonumber(e[6]) or 1, nil
    if ver > 1 then
      changed = e[8]
      if not same then changed = union(e[8], changed_fields(e[7])) end
    end
    put(nil, ver, changed, true)
    if ver == 1 then return {'new', '', '', '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1), 1} end
    return {'updated', ARGV[1], e[1], '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1), ver, changed}
  end
  if same then return {'unchanged', ARGV[1], e[1], ''} end
  local ver, changed = (tonumber(e[6]) or 1) + 1, changed_fields(e[7])
  put(nil, ver, changed)
  return {'updated', ARGV[1], e[1], '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1), ver, changed}
end
local same = redis.call('GET', KEYS[2])
if same and same ~= ARGV[1] then
  put(same)
  return {'duplicate_content', same, url_of(same), ''}
end
local threshold = tonumber(ARGV[7])
if threshold >= 0 then
  local best, best_sim, checked = nil, 0, {}
  local n = #ARGV[4] / 4
  for i = 5, #KEYS do
    for _, k in ipairs(redis.call('SMEMBERS', KEYS[i])) do
      if not checked[k] then
        checked[k] = true
        local sig = redis.call('HGET', ARGV[9] .. k, 'sig')
        if sig and #sig == #ARGV[4] then
          local equal = 0
          for j = 1, #sig, 4 do
            if string.sub(sig, j, j + 3) == string.sub(ARGV[4], j, j + 3) then equal = equal + 1 end
          end
          local sim = equal / n
          -- a tie goes to the smallest key, as in the local stores (their candidates come sorted by key)
          if sim >= threshold and (sim > best_sim or (sim == best_sim and k < best)) then best, best_sim = k, sim end
        end
      end
    end
  end
  if best then
    put(best)
    return {'near_duplicate', best, url_of(best), tostring(best_sim)}
  end
end
put(nil)
redis.call('INCR', KEYS[4])
return {'new', '', '', '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1), 1}
""".replace("{FIELDS}", "{" + ", ".join(f"'{name}'" for name in REVISION_FIELDS) + "}")


# KEYS: article hashes whose items the sinks have (idempotent: a repeated call changes nothing)
CONFIRM = "for _, key in ipairs(KEYS) do redis.call('HDEL', key, 'pend') end"


class RedisSeenStore(SeenStore):
    def __init__(self, client: redis.Redis, guard: Guard, keys: Keys, run_id: Callable[[], str],
                 keep_items: int = 10_000) -> None:
        # the `<spider>:items` list: the newest kept items, a convenience beside the sinks, which hold the data
        # (it grew without bound); 0: no list (GMW_REDIS_ITEMS_KEEP)
        self.stores_items = keep_items > 0
        self.keep_items = keep_items
        self.redis = client
        self.guard = guard
        self.keys = keys
        self.run_id = run_id
        self._decide = HotScript(client, DECIDE)
        self._confirm = HotScript(client, CONFIRM)
        self.prefix = keys.seen("a:")

    def _article(self, key: str) -> str:
        return self.prefix + key

    def decide(self, record: Record, near_threshold: float | None, item_json: str | None = None,
               kept_here: bool = True, refresh: bool = False) -> Decision:
        bands = [self.keys.seen(f"b:{band}") for band in record.signature.bands()]
        verdict, kept_key, kept_url, sim, *rest = self.guard(
            self._decide,
            keys=[self._article(record.key), self.keys.seen(f"c:{record.content_hash}"), self.keys.items,
                  self.keys.article_count, *bands],
            args=[record.key, record.url, record.content_hash, record.signature.to_bytes(), record.publish_time,
                  self.run_id(), -1 if near_threshold is None else near_threshold, item_json or "", self.prefix,
                  record.revision, json.dumps(record.fields, sort_keys=True) if record.fields else "", time.time(),
                  "1" if kept_here else "0", self.keep_items, "1" if refresh else "0"],
        )
        alt_urls, version, changed = (rest + [None, None, None])[:3]
        return Decision(Verdict(verdict.decode()), kept_key.decode() or None, kept_url.decode() or None,
                        float(sim) if sim else None, [u.decode() for u in alt_urls] if alt_urls is not None else None,
                        int(version) if version is not None else None, json.loads(changed) if changed else None)

    def alt_urls(self, key: str) -> list[str]:
        return [u.decode() for u in self.guard(self.redis.lrange, self._article(key) + ":alt", 0, -1)]

    def stored(self, key: str) -> StoredInfo | None:
        url, publish, dup, run, first, step, pend = self.guard(self.redis.hmget, self._article(key), "url", "publish",
                                                               "dup", "run", "first", "step", "pend")
        if url is None:
            return None
        try:
            return StoredInfo(key, url.decode(), (publish or b"").decode(), dup.decode() if dup else None,
                              (run or b"").decode() == self.run_id(), float(first) if first else None, int(step or 0),
                              pend is None)
        except (UnicodeDecodeError, ValueError):
            # a record no worker writes (changed by hand, or by someone who may write to Redis): its article is
            # fetched and decided again, which writes the record afresh, rather than a crash in every request
            logger.warning("Seen-store record %s in Redis is damaged; treated as absent", self._article(key))
            return None

    def confirm(self, delivered: Iterable[str], resolved: Iterable[str]) -> None:
        keys = [self._article(key) for key in delivered]
        if keys:
            self.guard(self._confirm, keys=keys, args=[])

    def current_run(self) -> str:
        return self.run_id()

    def mark_refreshed(self, key: str, step: int) -> None:
        self.guard(self.redis.hset, self._article(key), "step", step)

    def failed(self, key: str) -> FailedFetch | None:
        raw = self.guard(self.redis.hget, self.keys.seen("failed"), key)
        return _record(FailedFetch, raw, self.keys.seen("failed"), key) if raw else None

    def put_failed(self, failed: FailedFetch) -> None:
        self.guard(self.redis.hset, self.keys.seen("failed"), failed.key, json.dumps(dataclasses.asdict(failed)))

    def validators(self, url: str) -> Validators | None:
        raw = self.guard(self.redis.hget, self.keys.seen("validators"), url)
        return _record(Validators, raw, self.keys.seen("validators"), url) if raw else None

    def put_validators(self, url: str, validators: Validators) -> None:
        self.guard(self.redis.hset, self.keys.seen("validators"), url, json.dumps(dataclasses.asdict(validators)))

    def __len__(self) -> int:
        return int(self.guard(self.redis.get, self.keys.article_count) or 0)


# the type of each field of the records kept as JSON in Redis hashes: a record of other types is damaged
_FIELD_KINDS: dict[type, dict[str, Any]] = {
    FailedFetch: {"key": str, "url": str, "reason": str, "count": int, "retry_at": (int, float), "run_id": str},
    Validators: {"etag": (str, type(None)), "last_modified": (str, type(None)), "entries": (list, type(None)),
                 "next_url": (str, type(None))},
}


def _record(cls: type[T], raw: bytes, hash_key: str, field: str) -> T | None:
    """The record, or None (and a WARNING) for one that is not JSON of the record's fields and types:
    as absent, so the page is fetched and the record written afresh, instead of a crash in every request
    that reads it (TypeError, JSONDecodeError) — it may have been written by anyone who can write to Redis."""
    try:
        data = json.loads(raw)
        kinds = _FIELD_KINDS[cls]
        if (isinstance(data, dict) and set(data) <= set(kinds) and all(isinstance(v, kinds[k]) for k, v in data.items())
                and not any(isinstance(v, bool) for k, v in data.items() if k in ("count", "retry_at"))
                and all(isinstance(e, str) for e in data.get("entries") or [])):
            return cls(**data)
    except (ValueError, UnicodeDecodeError, TypeError, RecursionError):
        pass
    logger.warning("Record %s of %s in Redis is damaged; treated as absent", field[:200], hash_key)
    return None
