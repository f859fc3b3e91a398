"""Requests as JSON, never pickle (issue #4).

scrapy-redis pickles its queue, so anyone who can write to Redis runs code on every
worker. Here an entry is JSON; on the way out its request class must be on an
allow-list (checked before anything is imported) and its callback and errback must
be spider methods on an allow-list; anything else is rejected, counted and kept aside
for inspection, never executed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.utils.request import request_from_dict

from .leases import spider_errback

DEFAULT_REQUEST_CLASSES = ("scrapy.http.request.Request", "scrapy.Request", "scrapy.http.Request")
_BYTES = "__b64__"


class RejectedEntry(ValueError):
    """A queue entry that is not an allowed request; the message says why."""


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
        try:
            return request_from_dict(data, spider=self.spider)
        except Exception as exc:  # noqa: BLE001 - whatever a hostile entry makes Scrapy raise, it is not run
            raise RejectedEntry(f"not a valid request: {type(exc).__name__}: {exc!s:.200}") from None


def _scheme(url: str) -> str | None:
    try:
        return urlsplit(url).scheme
    except ValueError:  # "http://[2001:db8::1"
        return None
