"""Spider arguments (`-a name=value`, also what scrapyd's schedule.json passes).

Parsed in one place so that `scrapy crawl` (gmwcrawler.commands.crawl) can reject a
bad value before the crawl starts, and the spider gets typed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from gmwcrawler import defaults

KNOWN = ("start_urls", "allowed_domains", "max_list_pages", "since", "follow_related", "related_depth", "refresh", "watch")


def host_in_domains(host: str, domains: tuple[str, ...] | list[str]) -> bool:
    """Whether host is one of the domains or a subdomain of one (no domains: any host)."""
    return not domains or any(host == d or host.endswith("." + d) for d in domains)


class ArgumentError(ValueError):
    def __init__(self, name: str, value: Any, why: str) -> None:
        super().__init__(f"invalid spider argument {name}={value!r}: {why}")
        self.name = name


def _split(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ArgumentError(name, value, "expected a whole number") from None
    if number < minimum:
        raise ArgumentError(name, value, f"must be {minimum} or more")
    return number


def _flag(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ArgumentError(name, value, "expected 0 or 1")


@dataclass(frozen=True)
class CrawlOptions:
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    max_list_pages: int  # 0 = no limit
    since: date | None
    follow_related: bool
    related_depth: int
    refresh: bool = False  # re-fetch articles already stored
    watch: int = 0  # seconds between polls of each node's first listing page; 0 = one pass and end

    @property
    def stop_at_known(self) -> bool:
        """Listings stop paging at known pages and are asked conditionally, unless the run asks for
        everything (refresh) or for a date range (since), which read every page as before."""
        return not self.refresh and self.since is None

    @classmethod
    def from_arguments(cls, args: dict[str, Any], settings: BaseSettings) -> CrawlOptions:
        """Spider arguments over project settings; raises ArgumentError naming the argument."""
        start_urls = _split(args["start_urls"]) if "start_urls" in args else list(defaults.get(settings, "GMW_START_URLS"))
        if not start_urls:
            raise ArgumentError("start_urls", args.get("start_urls", ""), "no URL given")
        for url in start_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ArgumentError("start_urls", url, "expected an http(s) URL")

        domains = _split(args["allowed_domains"]) if "allowed_domains" in args else list(defaults.get(settings, "GMW_ALLOWED_DOMAINS"))
        for domain in domains:
            if "/" in domain or ":" in domain or " " in domain:
                raise ArgumentError("allowed_domains", domain, "expected a bare domain such as gmw.cn")
        for url in start_urls:
            host = urlsplit(url).hostname or ""
            if not host_in_domains(host, domains):
                raise ArgumentError("start_urls", url, f"host is outside allowed_domains ({','.join(domains)})")

        max_pages = _int("max_list_pages", args.get("max_list_pages", defaults.get(settings, "GMW_MAX_LIST_PAGES")), 0)

        since = None
        if args.get("since"):
            text = str(args["since"]).strip()
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                    raise ValueError(text)
                since = date.fromisoformat(text)
            except ValueError:
                raise ArgumentError("since", args["since"], "expected a date as YYYY-MM-DD") from None

        follow = _flag("follow_related", args.get("follow_related", "1" if defaults.get(settings, "GMW_FOLLOW_RELATED") else "0"))
        depth = _int("related_depth", args.get("related_depth", defaults.get(settings, "GMW_RELATED_DEPTH")), 0)
        refresh = _flag("refresh", args.get("refresh", "0"))
        watch = _int("watch", args.get("watch", "0"), 0)
        if 0 < watch < 10:
            raise ArgumentError("watch", args["watch"], "polls closer than 10 seconds apart are not polite to the site")
        return cls(tuple(start_urls), tuple(domains), max_pages, since, follow, depth, refresh, watch)
