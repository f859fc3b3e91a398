"""A distributed run's life: joined by every worker, seeded once, finished for all."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import redis

from .connection import Guard
from .keys import Keys
from .scripts import JOIN_RUN


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_WORKERS: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


def worker_id(crawler: Any) -> str:
    """This worker's name in the run (its heartbeat, the poller lease): host, pid and a random part, since a
    pid is used again after a restart (a container's is often 1)."""
    if crawler not in _WORKERS:
        _WORKERS[crawler] = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    return _WORKERS[crawler]


def join_run(client: redis.Redis, guard: Callable[..., Any], keys: Keys, reopen: bool = False) -> tuple[str, str]:
    """('running' | 'finished', run id); the first worker of a run creates it. `reopen` (watch mode): a
    finished run is replaced by a new one, as `seed` does. `guard`: a Guard, or its wait_in_place at start-up."""
    state_keys = [k for k in keys.all_run_state() if k != keys.run] if reopen else []
    state, run_id = guard(client.register_script(JOIN_RUN), keys=[keys.run, *state_keys],
                          args=[uuid.uuid4().hex[:12], _now(), "1" if reopen else "0"])
    state = state.decode()
    return ("running" if state == "new" else state), run_id.decode()


def current_run_id(client: redis.Redis, guard: Guard, keys: Keys) -> str:
    value = guard(client.hget, keys.run, "id")
    return value.decode() if value else ""


def seed(client: redis.Redis, keys: Keys, force: bool = False) -> tuple[bool, str]:
    """Open a new run, unless one is still in progress (then nothing changes, unless `force`).

    The shared queue, leases and request fingerprints of the old run are cleared; the
    seen-store is kept, so the new run fetches only what is new. Workers started after
    this push the start URLs (the shared fingerprints let only the first one through)."""
    state = client.hget(keys.run, "state")
    if state == b"running" and not force:
        return False, (client.hget(keys.run, "id") or b"").decode()
    run_id = uuid.uuid4().hex[:12]
    pipe = client.pipeline(transaction=True)
    pipe.delete(*keys.all_run_state())
    pipe.hset(keys.run, mapping={"id": run_id, "state": "running", "started_at": _now()})
    pipe.execute()
    return True, run_id


def reset(client: redis.Redis, keys: Keys, everything: bool = False) -> int:
    """Delete the run's shared state; with `everything`, the seen-store and stored items too."""
    names = keys.all_run_state() + [keys.sequence, keys.rejected, keys.failed]
    if everything:
        names += [keys.items, keys.article_count, keys.reports]
        names += list(client.scan_iter(match=keys.seen("*"), count=1000))
        names += list(client.scan_iter(match=keys.rate("*"), count=1000))
    return client.delete(*names) if names else 0


def status(client: redis.Redis, keys: Keys, stale_after: float = 30.0) -> dict[str, Any]:
    run = {k.decode(): v.decode() for k, v in client.hgetall(keys.run).items()}
    now = time.time()
    workers = []
    malformed = 0  # heartbeats and reports anyone could have written: skipped and counted
    for raw in client.hvals(keys.workers):
        beat = _json_object(raw, _BEAT_FIELDS)
        if beat is None:
            malformed += 1
            continue
        beat["alive"] = beat["state"] == "running" and now - beat["last_seen"] < stale_after
        beat["seconds_since_heartbeat"] = round(now - beat["last_seen"], 1)
        workers.append(beat)
    reports = [_json_object(r, _REPORT_FIELDS) for r in client.lrange(keys.reports, 0, 9)]  # newest first
    malformed += reports.count(None)
    pages = sum(w["pages"] for w in workers)
    started = min((w["started"] for w in workers), default=now)
    minutes = max((max((w["last_seen"] for w in workers), default=now) - started) / 60, 1 / 60)
    return {
        "run": run,
        "queued": client.zcard(keys.queue),
        "leased": client.zcard(keys.leases),
        "rejected_entries": client.llen(keys.rejected),
        "unreadable_pages": client.llen(keys.failed),
        "items_stored": client.llen(keys.items),
        "articles_known": int(client.get(keys.article_count) or 0),
        "pages": pages,
        "pages_per_minute": round(pages / minutes, 1),
        "errors": sum(w["errors"] for w in workers),
        "workers": sorted(workers, key=lambda w: w["worker"]),
        "last_reports": [r for r in reports if r is not None],
        "watch": _watch(client, keys),
        "malformed_entries": malformed,
    }


def _watch(client: redis.Redis, keys: Keys) -> dict[str, Any] | None:
    """Watch mode: the worker that holds the poller lease and the last poll (None: nobody watches this run)."""
    poller = client.get(keys.poller)
    at, by = client.hmget(keys.watch, "at", "by")
    if poller is None and at is None:
        return None
    try:
        when = round(float(at), 3) if at is not None else None
    except ValueError:
        when = None
    return {"poller": poller.decode("utf-8", "replace") if poller else None, "last_poll_at": when,
            "last_poll_by": by.decode("utf-8", "replace") if by else None,
            "seconds_since_last_poll": round(time.time() - when, 1) if when is not None else None}


_BEAT_FIELDS = {"worker": str, "state": str, "started": (int, float), "last_seen": (int, float), "pages": int,
                "items": int, "errors": int, "leases": int}
_REPORT_FIELDS = {"end": str, "run": (str, type(None)), "worker": str, "verdict": str, "pages": int,
                  "items_stored": int, "error_rate": (int, float), "message": str}


def _json_object(raw: bytes, fields: dict[str, type | tuple[type, ...]]) -> dict[str, Any] | None:
    """`raw` as a JSON object whose `fields` have the types `status` reads, or None."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), t) for k, t in fields.items()):
        return None
    return value
