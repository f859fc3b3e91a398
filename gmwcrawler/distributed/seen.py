"""The seen-store in Redis: shared by all workers; "decide + mark seen + store the item" is
one Lua step, so an article reaches the shared store exactly once even if a worker dies
between steps (issue #4)."""

from __future__ import annotations

from collections.abc import Callable

import redis

from gmwcrawler.seen.base import Decision, Record, SeenStore, StoredInfo, Verdict

from .connection import Guard, HotScript
from .keys import Keys

# KEYS: article hash, content index, items list, article counter, band sets...
# ARGV: key, url, content hash, signature, publish time, run id, threshold (-1 = off), item JSON ('' = none),
#       article key prefix
# Returns verdict, kept key, kept URL, similarity, and for a kept item its alt URLs (no second round trip).
DECIDE = """
local function put(dup)
  redis.call('HSET', KEYS[1], 'url', ARGV[2], 'hash', ARGV[3], 'publish', ARGV[5], 'run', ARGV[6])
  if dup then
    redis.call('HSET', KEYS[1], 'dup', dup)
    redis.call('HDEL', KEYS[1], 'sig')
    redis.call('RPUSH', ARGV[9] .. dup .. ':alt', ARGV[2])
  else
    redis.call('HSET', KEYS[1], 'sig', ARGV[4])
    redis.call('HDEL', KEYS[1], 'dup')
    for i = 5, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
    redis.call('SET', KEYS[2], ARGV[1], 'NX')
    if ARGV[8] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[8]) end
  end
end
local function url_of(key) return redis.call('HGET', ARGV[9] .. key, 'url') or '' end

if redis.call('EXISTS', KEYS[1]) == 1 then
  local e = redis.call('HMGET', KEYS[1], 'url', 'hash', 'run', 'dup')
  if e[4] then return {'duplicate_content', e[4], url_of(e[4]), ''} end
  if e[3] == ARGV[6] then return {'duplicate_url', ARGV[1], e[1], ''} end
  if e[2] == ARGV[3] then return {'unchanged', ARGV[1], e[1], ''} end
  put(nil)
  return {'updated', ARGV[1], e[1], '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1)}
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
          if sim >= threshold and sim > best_sim then best, best_sim = k, sim end
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
return {'new', '', '', '', redis.call('LRANGE', KEYS[1] .. ':alt', 0, -1)}
"""


class RedisSeenStore(SeenStore):
    stores_items = True
    def __init__(self, client: redis.Redis, guard: Guard, keys: Keys, run_id: Callable[[], str]) -> None:
        self.redis = client
        self.guard = guard
        self.keys = keys
        self.run_id = run_id
        self._decide = HotScript(client, DECIDE)
        self.prefix = keys.seen("a:")

    def _article(self, key: str) -> str:
        return self.prefix + key

    def decide(self, record: Record, near_threshold: float | None, item_json: str | None = None) -> Decision:
        bands = [self.keys.seen(f"b:{band}") for band in record.signature.bands()]
        verdict, kept_key, kept_url, sim, *alt = self.guard(
            self._decide,
            keys=[self._article(record.key), self.keys.seen(f"c:{record.content_hash}"), self.keys.items,
                  self.keys.article_count, *bands],
            args=[record.key, record.url, record.content_hash, record.signature.to_bytes(), record.publish_time,
                  self.run_id(), -1 if near_threshold is None else near_threshold, item_json or "", self.prefix],
        )
        return Decision(Verdict(verdict.decode()), kept_key.decode() or None, kept_url.decode() or None,
                        float(sim) if sim else None, [u.decode() for u in alt[0]] if alt else None)

    def alt_urls(self, key: str) -> list[str]:
        return [u.decode() for u in self.guard(self.redis.lrange, self._article(key) + ":alt", 0, -1)]

    def stored(self, key: str) -> StoredInfo | None:
        url, publish, dup, run = self.guard(self.redis.hmget, self._article(key), "url", "publish", "dup", "run")
        if url is None:
            return None
        return StoredInfo(key, url.decode(), (publish or b"").decode(), dup.decode() if dup else None,
                          (run or b"").decode() == self.run_id())

    def __len__(self) -> int:
        return int(self.guard(self.redis.get, self.keys.article_count) or 0)
