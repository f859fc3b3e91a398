"""A distributed run's life: joined by every worker, seeded once, finished for all (issue #4)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from .connection import Guard
from .keys import Keys
from .scripts import JOIN_RUN


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def join_run(client: redis.Redis, guard: Callable[..., Any], keys: Keys) -> tuple[str, str]:
    """('running' | 'finished', run id); the first worker of a run creates it. `guard`: a Guard, or its
    wait_in_place at start-up."""
    state, run_id = guard(client.register_script(JOIN_RUN), keys=[keys.run], args=[uuid.uuid4().hex[:12], _now()])
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
    malformed = 0  # heartbeats and reports anyone could have written: skipped and counted (issue #17)
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
        "malformed_entries": malformed,
    }


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
