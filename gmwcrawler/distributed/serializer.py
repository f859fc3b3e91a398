"""Requests as JSON, never pickle, and never steering the crawler.

scrapy-redis pickles its queue, so anyone who can write to Redis runs code on every
worker. Here an entry is JSON; on the way out its request class must be on an
allow-list (checked before anything is imported) and its callback and errback must
be spider methods on an allow-list; anything else is rejected, counted and kept aside
for inspection, never executed.

Nor may an entry steer what the worker does with it: a `meta` key, a header or a
`cb_kwargs` argument that this crawler does not write is refused (an entry for
http://169.254.169.254/ with `dont_filter`, `proxy`, `download_maxsize: 0` and
`dont_obey_robotstxt` asked every worker to fetch an internal address past the offsite
check, the size limit, robots.txt and the rate slot); `dont_filter` only for a host of
`allowed_domains`; what Scrapy's downloader middlewares write on a request while it is
downloaded (a retried copy carries it into the queue) is dropped on the way out and
written again when the request is downloaded again. The spider declares what it writes
(`queue_meta`, `queue_cb_kwargs`, `check_queue_entry`: gmwcrawler.spiders.politics).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.utils.request import request_from_dict

from .leases import LEASE_META, PARENT_META, spider_errback

DEFAULT_REQUEST_CLASSES = ("scrapy.http.request.Request", "scrapy.Request", "scrapy.http.Request")
_BYTES = "__b64__"


class RejectedEntry(ValueError):
    """A queue entry that is not an allowed request; the message says why."""


# Scrapy's own bookkeeping, which the scheduler sees on requests (depth, retries, redirects, start requests)
SCRAPY_META: dict[str, type | tuple[type, ...]] = {
    "depth": int, "retry_times": int, "redirect_times": int, "redirect_ttl": int, "redirect_urls": list,
    "redirect_reasons": list, "is_start_request": bool,
}
# written while a request is downloaded (download slot and latency, the timeout, the proxy from the
# environment, the conditional request's 304, the lease): never taken from Redis, written again by the
# worker that downloads the request
DROPPED_META = frozenset({"download_slot", "download_latency", "download_timeout", "proxy", "_auth_proxy",
                          "_scheme_proxy", "handle_httpstatus_list", LEASE_META, PARENT_META, "gmw_handed"})
# the headers a queued request of this crawler can carry (the Referer of the page that linked it; the
# validators and defaults a retried copy keeps); any other (Host, Authorization, Cookie, …) is refused
SAFE_HEADERS = frozenset({"referer", "accept", "accept-language", "accept-encoding", "user-agent", "if-none-match",
                          "if-modified-since"})


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, bytes) else k.decode("latin-1"): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} cannot be stored in the Redis queue")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_BYTES}:
            return base64.b64decode(value[_BYTES])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class RequestSerializer:
    def __init__(self, spider: Spider, callbacks: Iterable[str], request_classes: Iterable[str] = DEFAULT_REQUEST_CLASSES):
        self.spider = spider
        self.callbacks = frozenset(callbacks)
        self.request_classes = frozenset(request_classes)
        self.meta_kinds = {**SCRAPY_META, **getattr(spider, "queue_meta", {})}
        self.cb_kwargs_kinds: dict[str, dict[str, Any]] = getattr(spider, "queue_cb_kwargs", {})

    def dumps(self, request: Request) -> str:
        """JSON of the request; TypeError if it holds something JSON cannot (a callback that
        is not a spider method, an object in meta or cb_kwargs)."""
        data = self._to_dict(request)
        for name in ("callback", "errback"):
            if data.get(name) and data[name] not in self.callbacks:
                raise TypeError(f"{name} {data[name]!r} is not in the allowed callbacks {sorted(self.callbacks)}")
        return json.dumps(_encode(data), ensure_ascii=False, separators=(",", ":"))

    def _to_dict(self, request: Request) -> dict[str, Any]:
        """Request.to_dict(spider=…), without its search through every member of the spider
        (inspect.getmembers per callback: 0.2 ms a request, measured in bench/) where the
        callbacks are plain methods of this spider, as the politics spider's are."""
        errback = spider_errback(request)  # a leased request's errback is the lease's wrapper of the spider's
        names = [self._method_name(request.callback), self._method_name(errback)]
        if False in names:
            return request.replace(errback=errback).to_dict(spider=self.spider)
        data = {"url": request.url, "callback": names[0], "errback": names[1], "headers": dict(request.headers)}
        for attr in request.attributes:
            data.setdefault(attr, getattr(request, attr))
        if type(request) is not Request:
            data["_class"] = f"{type(request).__module__}.{type(request).__name__}"
        return data

    def _method_name(self, function: Any) -> str | None | bool:
        """The name of a bound method of this spider; None for None; False where unsure."""
        if function is None:
            return None
        name = getattr(function, "__name__", None)
        if getattr(function, "__self__", None) is self.spider and name:
            own = getattr(self.spider, name, None)
            if getattr(own, "__func__", None) is getattr(function, "__func__", False):
                return name
        return False

    def loads(self, payload: bytes | str) -> Request:
        try:
            text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
            data = _decode(json.loads(text))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise RejectedEntry(f"not JSON ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise RejectedEntry("not a JSON object")
        # every value may be of any JSON type (tests/test_fuzz_redis.py): a list is no class name
        cls = data.get("_class", "scrapy.http.request.Request")
        if not isinstance(cls, str) or cls not in self.request_classes:
            raise RejectedEntry(f"request class {cls!r:.100} is not allowed")
        for name in ("callback", "errback"):
            value = data.get(name)
            if value is not None and (not isinstance(value, str) or value not in self.callbacks):
                raise RejectedEntry(f"{name} {value!r:.100} is not allowed")
        url = data.get("url")
        if not isinstance(url, str) or _scheme(url) not in ("http", "https"):
            raise RejectedEntry(f"url {url!r:.100} is not http(s)")
        if cls in DEFAULT_REQUEST_CLASSES:
            data.pop("_class", None)  # a plain Request: nothing to import
        self._check_steering(data, url)
        try:
            request = request_from_dict(data, spider=self.spider)
        except Exception as exc:  # noqa: BLE001 - whatever a hostile entry makes Scrapy raise, it is not run
            raise RejectedEntry(f"not a valid request: {type(exc).__name__}: {exc!s:.200}") from None
        check = getattr(self.spider, "check_queue_entry", None)
        problem = check(request) if check is not None else None
        if problem:
            raise RejectedEntry(problem)
        return request

    def _check_steering(self, data: dict[str, Any], url: str) -> None:
        """RejectedEntry for anything in the entry that this crawler does not write; what a download
        writes is dropped (module docstring)."""
        if data.get("method", "GET") != "GET" or data.get("body") not in (None, b"", ""):
            raise RejectedEntry("only GET requests without a body are queued")
        if data.get("cookies") not in (None, {}, []):
            raise RejectedEntry("cookies are not queued")
        meta = data.get("meta")
        if meta is None:
            meta = data["meta"] = {}
        if not isinstance(meta, dict):
            raise RejectedEntry("meta is not an object")
        for key in list(meta):
            if key in DROPPED_META:
                del meta[key]
                continue
            kind = self.meta_kinds.get(key)
            if kind is None:
                raise RejectedEntry(f"meta key {key!r:.60} is not one this crawler writes")
            if meta[key] is not None and not isinstance(meta[key], kind):
                raise RejectedEntry(f"meta {key!r} is a {type(meta[key]).__name__}")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise RejectedEntry("headers is not an object")
        if unsafe := [name for name in headers if not isinstance(name, str) or name.lower() not in SAFE_HEADERS]:
            raise RejectedEntry(f"headers {unsafe!r:.120} are not ones this crawler sends")
        domains = getattr(self.spider, "allowed_domains", None)
        if data.get("dont_filter") and domains and not _host_in(urlsplit(url).hostname or "", domains):
            # a retry is dont_filter (RetryMiddleware): inside allowed_domains; outside, it would pass the offsite check
            raise RejectedEntry(f"dont_filter for {urlsplit(url).hostname!r:.80}, outside allowed_domains")
        callback = data.get("callback")
        kinds = self.cb_kwargs_kinds.get(callback) if isinstance(callback, str) else None
        cb_kwargs = data.get("cb_kwargs") or {}
        if not isinstance(cb_kwargs, dict):
            raise RejectedEntry("cb_kwargs is not an object")
        for name, value in cb_kwargs.items():
            kind = (kinds or {}).get(name)
            if kind is None:
                raise RejectedEntry(f"cb_kwargs {name!r:.60} is not an argument this crawler passes to {callback!r}")
            if value is not None and not isinstance(value, kind):
                raise RejectedEntry(f"cb_kwargs {name!r} is a {type(value).__name__}")


def _scheme(url: str) -> str | None:
    try:
        return urlsplit(url).scheme
    except ValueError:  # "http://[2001:db8::1"
        return None


def _host_in(host: str, domains: Iterable[str]) -> bool:
    """The host is one of the domains or under one (the port plays no part, as in Scrapy's offsite check)."""
    host = host.lower().rstrip(".")
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains)
