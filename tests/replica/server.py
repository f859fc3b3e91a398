"""HTTP server of the replica.

It answers both as a web server (``http://127.0.0.1:PORT/node_9840.htm`` is
politics.gmw.cn) and as an HTTP/HTTPS proxy, so a crawl can use the real
``https://politics.gmw.cn/...`` URLs unchanged: set ``https_proxy`` /
``http_proxy`` to the replica and every gmw.cn host is served from here (HTTPS
through CONNECT with a self-signed certificate, which Scrapy does not verify).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import re
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..redesign import redesign
from . import render
from .model import SPECIAL_BASE_ID, SPECIAL_KINDS, Site

ARTICLE_RE = re.compile(r"^/(\d{4}-\d{2})/(\d{2})/content_(\d+)(?:_(\d+))?\.htm$")
LISTING_RE = re.compile(r"^/node_(\d+)(?:_(\d+))?\.htm$")
GMW_SUFFIX = ".gmw.cn"
OVERSIZED_BYTES = 6 * 1024 * 1024
SLOW_SECONDS = 1.5


def _self_signed_context() -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.gmw.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.gmw.cn"), x509.DNSName("gmw.cn")]), False)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="gmw-replica-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: with a dozen connections opened at once the kernel drops the
    # rest of the SYNs and the client resends them a second later, so a request arrives a second after it
    # was sent (the site's servers keep a backlog of hundreds)
    request_queue_size = 128

    def __init__(self, address, site: Site, latency: float = 0.0, faults: bool = True, validators: bool = True) -> None:
        super().__init__(address, Handler)
        self.site = site
        self.latency = latency
        self.faults = faults
        self.validators = validators
        self.hits: Counter[str] = Counter()
        self.hitlog: list[tuple[float, str]] = []  # (time, URL) of every request, for rate measurements
        self.lock = threading.Lock()
        # markup changes a test makes between two crawls, as gmw.cn's redesigns do (drift, issue #11)
        self.markup_changes: list[tuple[str, str]] = []
        # a redesign of tests/redesign.py applied to every article and listing page from now on
        self.redesign: str | None = None
        self.robots_status: int | None = None  # robots.txt answers with this status (None, 200: the file)
        self.throttle: list[tuple[int, str]] = []  # (status, Retry-After) for the next requests, one each
        self.throttled: list[float] = []  # when each was answered so
        self.not_modified = 0
        self.ssl_context = _self_signed_context()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def hit(self, url: str) -> int:
        with self.lock:
            self.hits[url] += 1
            self.hitlog.append((time.time(), url))
            return self.hits[url]


class Handler(BaseHTTPRequestHandler):
    server: ReplicaServer
    protocol_version = "HTTP/1.1"
    tunnel_host: str | None = None

    def log_message(self, format, *args):
        pass

    # -- proxying -----------------------------------------------------------------------
    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0]
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.server.ssl_context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        handler = Handler.__new__(Handler)
        handler.tunnel_host = host
        try:
            Handler.__init__(handler, tls, self.client_address, self.server)
        except (ssl.SSLError, OSError):
            pass
        self.close_connection = True

    def _target(self) -> tuple[str, str, str]:
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            return parts.scheme, parts.hostname or "", parts.path or "/"
        if self.tunnel_host:
            return "https", self.tunnel_host, self.path.split("?", 1)[0]
        host = (self.headers.get("Host") or "").split(":")[0]
        if host in ("", "127.0.0.1", "localhost", "::1") or not host.endswith(GMW_SUFFIX):
            host = "politics.gmw.cn"
        return "http", host, self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        scheme, host, path = self._target()
        url = f"{scheme}://{host}{path}"
        if path.startswith("/__replica__/"):
            return self._control(path, self.path.split("?", 1)[1] if "?" in self.path else "")
        count = self.server.hit(url)
        if self.server.latency:
            time.sleep(self.server.latency)
        try:
            self._route(host, path, count)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_HEAD = do_GET

    # -- answers --------------------------------------------------------------------------
    def _send(self, status: int, body: bytes | str = b"", ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _page(self, html: str, modified: dt.datetime) -> None:
        """A page as a static web server sends a file: ETag and Last-Modified, and 304 to a request
        whose If-None-Match (or, without one, If-Modified-Since) still holds (issue #13).

        Not seen on gmw.cn: no saved page kept its HTTP headers (docs/evidence.md). The pages
        are static files of a CMS (the enp markers) and static servers answer this way; --no-validators
        serves a site that does not, and the crawler must work on both."""
        if not self.server.validators:
            return self._send(200, html)
        body = html.encode("utf-8")
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        stamp = email.utils.format_datetime((modified - dt.timedelta(hours=8)).replace(tzinfo=dt.UTC), usegmt=True)
        asked_etag, asked_since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if asked_etag is not None:
            unchanged = etag in [tag.strip() for tag in asked_etag.split(",")]
        else:
            try:
                unchanged = asked_since is not None and email.utils.parsedate_to_datetime(asked_since) >= \
                    email.utils.parsedate_to_datetime(stamp)
            except (TypeError, ValueError):
                unchanged = False
        if unchanged:
            with self.server.lock:
                self.server.not_modified += 1
            return self._send(304, b"", "", headers={"ETag": etag, "Last-Modified": stamp})
        return self._send(200, body, headers={"ETag": etag, "Last-Modified": stamp})

    def _route(self, host: str, path: str, count: int) -> None:
        site = self.server.site
        if not host.endswith(GMW_SUFFIX) and host != "gmw.cn":
            return self._send(200, "<html><head><title>Example</title></head><body><p>Another site.</p></body></html>")
        with self.server.lock:  # a test's throttle: the next request(s) of any gmw.cn host answered 429/503
            throttle = self.server.throttle.pop(0) if self.server.throttle else None
            if throttle:
                self.server.throttled.append(time.time())
        if throttle:
            status, retry_after = throttle
            return self._send(status, "<html><body>Too Many Requests</body></html>",
                              headers={"Retry-After": retry_after} if retry_after else None)
        if path == "/robots.txt":
            if self.server.robots_status not in (None, 200):  # a fault a test asks for: 503, 429, 404 …
                return self._send(self.server.robots_status, "<html><body>error</body></html>")
            forbidden = SPECIAL_BASE_ID + SPECIAL_KINDS.index("robots_forbidden")
            return self._send(200, render.ROBOTS.format(forbidden=forbidden), "text/plain")
        if host == "politics.gmw.cn" and (m := LISTING_RE.match(path)):
            page = int(m.group(2) or 1)
            # node_X_1.htm does not exist on the real site; page 1 is node_X.htm
            html = None if m.group(2) == "1" else render.listing_page(site, int(m.group(1)), page)
            if html and self.server.redesign:
                html = redesign(html.encode("utf-8"), self.server.redesign).decode("utf-8")
            return self._page(html, site.changed_at) if html else self._send(404, "<html><body>404 Not Found</body></html>")
        if m := ARTICLE_RE.match(path):
            key = site.index_of(int(m.group(3)))
            art = site.article(key) if key else None
            page = int(m.group(4) or 1)
            if art and art.host == host and path == urlsplit(art.page_url(page)).path and page <= len(art.pages):
                return self._article(art, page, count)
        self._send(404, "<html><head><title>404 Not Found</title></head><body>404</body></html>")

    def _article(self, art, page: int, count: int) -> None:
        site, kind = self.server.site, art.kind if self.server.faults else "regular"
        html = render.article_page(site, art, page)
        for old, new in self.server.markup_changes:
            html = html.replace(old, new)
        if self.server.redesign:
            html = redesign(html.encode("utf-8"), self.server.redesign).decode("utf-8")
        if kind == "soft404":
            return self._send(200, render.SOFT_404)
        if kind == "not_found":
            return self._send(404, "<html><body>Not Found</body></html>")
        if kind == "flaky500" and count % 2 == 1:
            return self._send(500, "<html><body>Internal Server Error</body></html>")
        if kind == "unavailable503":
            return self._send(503, "<html><body>Service Unavailable</body></html>", headers={"Retry-After": "1"})
        if kind == "slow":
            time.sleep(SLOW_SECONDS)
        if kind == "truncated":
            body = html.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if kind == "redirect_offsite":
            return self._send(302, "", headers={"Location": "https://www.example.com/landing.htm"})
        if kind == "redirect_loop":
            return self._send(302, "", headers={"Location": f"{art.url}?loop={count}"})
        if kind == "oversized":
            padding = "<!-- " + "x" * OVERSIZED_BYTES + " -->"
            return self._send(200, html.replace("</body>", padding + "</body>"))
        if kind == "gb18030":
            # charset only in the <meta>, as old CMS pages do: Scrapy must find it there
            body = render.article_page(site, art, page, charset="gb18030").encode("gb18030")
            return self._send(200, body, "text/html")
        if kind == "empty":
            return self._send(200, b"")
        if kind == "hostile":
            # the two crashes of issue #17: a control character pasted into the text by a word
            # processor, and a body link whose href is no URL; the item must be as without them
            marker = "<!--enpcontent--><!--enpcontent-->"
            at = html.index("<p", html.index(marker))
            at = html.index(">", at) + 1
            return self._send(200, html[:at] + '\x01<a href="http://[2001:db8::1"></a>\x0b' + html[at:])
        if kind == "malformed":
            broken = html.replace("</p>", "", 3).replace("</div>", "", 2).replace('<div class="m-relRead">', "</div></span><div class='m-relRead'>")
            return self._send(200, broken[:-len("</body></html>")])
        return self._page(html, site.edits.get(art.key, art.published))

    def _control(self, path: str, query: str) -> None:
        site = self.server.site
        if path == "/__replica__/truth.jsonl":
            # streamed: at 100,000 articles the whole truth is ~300 MB of Python strings
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for art in site.all_articles():
                self.wfile.write(json.dumps(art.truth(), ensure_ascii=False).encode("utf-8") + b"\n")
            return None
        if path == "/__replica__/publish":
            count = int(parse_qs(query).get("count", ["1"])[0])
            with self.server.lock:
                urls = site.publish(count)
            return self._send(200, json.dumps(urls), "application/json")
        if path == "/__replica__/edit":  # ?url=…: correct that article (a new version of it)
            url = parse_qs(query)["url"][0]
            m = ARTICLE_RE.match(urlsplit(url).path)
            key = site.index_of(int(m.group(3))) if m else None
            if key is None or not key.startswith("i"):
                return self._send(404, "not a regular article of the replica", "text/plain")
            with self.server.lock:
                art = site.edit(key)
            return self._send(200, json.dumps(art.truth(), ensure_ascii=False), "application/json")
        if path == "/__replica__/not_modified":  # how many 304s the replica answered
            return self._send(200, str(self.server.not_modified), "text/plain")
        if path == "/__replica__/markup":  # ?old=…&new=…: article pages from now on say `new` for `old`
            change = parse_qs(query)
            with self.server.lock:
                self.server.markup_changes.append((change["old"][0], change.get("new", [""])[0]))
            return self._send(200, "ok", "text/plain")
        if path == "/__replica__/robots":  # ?status=503: robots.txt answers so from now on
            with self.server.lock:
                self.server.robots_status = int(parse_qs(query)["status"][0])
            return self._send(200, "ok", "text/plain")
        if path == "/__replica__/throttle":  # ?status=429&retry_after=30&count=1
            asked = parse_qs(query)
            with self.server.lock:
                self.server.throttle += [(int(asked.get("status", ["429"])[0]), asked.get("retry_after", [""])[0])] * \
                    int(asked.get("count", ["1"])[0])
            return self._send(200, "ok", "text/plain")
        if path == "/__replica__/throttled.json":
            with self.server.lock:
                body = json.dumps(self.server.throttled)
            return self._send(200, body, "application/json")
        if path == "/__replica__/redesign":  # ?transform=rename_classes (tests/redesign.py): pages from now on
            with self.server.lock:
                self.server.redesign = parse_qs(query)["transform"][0]
            return self._send(200, "ok", "text/plain")
        if path == "/__replica__/hitlog.json":
            with self.server.lock:
                body = json.dumps(self.server.hitlog)
            return self._send(200, body, "application/json")
        if path == "/__replica__/hits.json":
            with self.server.lock:
                body = json.dumps(dict(self.server.hits))
            return self._send(200, body, "application/json")
        self._send(404, "unknown control path")


def serve(host: str = "127.0.0.1", port: int = 0, articles: int = 60, seed: int = 1,
          latency: float = 0.0, faults: bool = True, validators: bool = True) -> ReplicaServer:
    return ReplicaServer((host, port), Site(articles, seed), latency=latency, faults=faults, validators=validators)
