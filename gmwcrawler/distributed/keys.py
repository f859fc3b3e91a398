"""Redis keys of one spider's crawl. scrapy-redis names them `<spider>:requests`,
`<spider>:dupefilter`, `<spider>:items`; GMW_REDIS_NAMESPACE prefixes them all, so
several crawls (or test runs) can share one Redis."""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.settings import BaseSettings

from gmwcrawler import defaults


@dataclass(frozen=True)
class Keys:
    namespace: str
    spider: str

    @classmethod
    def of(cls, settings: BaseSettings, spider: str) -> Keys:
        """The keys of `spider`'s crawl under the settings' GMW_REDIS_NAMESPACE: the one place they are built."""
        return cls(defaults.get(settings, "GMW_REDIS_NAMESPACE") or "", spider)

    def _key(self, name: str) -> str:
        prefix = f"{self.namespace}:" if self.namespace else ""
        return f"{prefix}{self.spider}:{name}"

    @property
    def queue(self) -> str:  # sorted set: entry id -> -priority
        return self._key("requests")

    @property
    def payloads(self) -> str:  # hash: entry id -> JSON request
        return self._key("requests:payloads")

    @property
    def leases(self) -> str:  # sorted set: entry id -> lease deadline (Redis server time, ms)
        return self._key("requests:leases")

    @property
    def sequence(self) -> str:
        return self._key("requests:sequence")

    @property
    def attempts(self) -> str:  # hash: entry id -> times its lease expired (GMW_MAX_ATTEMPTS)
        return self._key("requests:attempts")

    @property
    def tokens(self) -> str:  # hash: entry id -> the token of its current lease (fencing: scripts.HELD_ID)
        return self._key("requests:tokens")

    def sync_reply(self, call: str) -> str:  # string, for a lease's time: a SYNC call's reply, if it is asked again
        return self._key(f"requests:sync:{call}")

    @property
    def rejected(self) -> str:  # list: entries refused by the serializer, kept for inspection
        return self._key("requests:rejected")

    @property
    def failed(self) -> str:  # list: JSON {url, reason, at, worker, request}: pages extraction could not read,
        # and requests whose lease expired GMW_MAX_ATTEMPTS times
        return self._key("requests:failed")

    @property
    def extraction(self) -> str:  # list: JSON {field: {path: articles}} of recent runs, newest first (drift)
        return self._key("extraction")

    @property
    def fingerprints(self) -> str:
        return self._key("dupefilter")

    @property
    def items(self) -> str:
        return self._key("items")

    @property
    def article_count(self) -> str:  # articles the seen-store holds (NEW decisions)
        return self._key("items:count")

    @property
    def run(self) -> str:  # hash: id, state, started_at, finished_at
        return self._key("run")

    @property
    def idle_since(self) -> str:
        return self._key("run:idle_since")

    @property
    def workers(self) -> str:  # hash: worker id -> JSON heartbeat
        return self._key("workers")

    @property
    def reports(self) -> str:  # list: JSON reports of finished runs, newest first
        return self._key("reports")

    @property
    def poller(self) -> str:  # string with a time to live: the worker that polls the listings (watch mode)
        return self._key("watch:poller")

    @property
    def watch(self) -> str:  # hash: last_ms (the cluster's clock), at (Unix time), by: the last poll of the listings
        return self._key("watch")

    def seen(self, part: str) -> str:
        return self._key(f"seen:{part}")

    def robots(self, netloc: str) -> str:  # string, JSON: a host's robots.txt answer, until it is asked again
        return self._key(f"robots:{netloc}")

    @property
    def clock(self) -> str:  # hash: the cluster's clock (scripts.NOW_MS): the last raw TIME and the clock's time
        return self._key("clock")

    def pause(self, site: str) -> str:  # string with a time to live: the site asked every worker to wait (429/503)
        return self._key(f"pause:{site}")

    def rate(self, host: str) -> str:
        return self._key(f"rate:{host}")

    def all_run_state(self) -> list[str]:
        """What `reset` deletes to start a run from nothing (the seen-store is kept)."""
        return [self.queue, self.payloads, self.leases, self.attempts, self.tokens, self.fingerprints, self.run,
                self.idle_since, self.workers, self.clock, self.poller, self.watch]
