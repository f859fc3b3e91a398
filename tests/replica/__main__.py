"""python -m tests.replica --port N --articles N [--latency S] [--seed N]"""

from __future__ import annotations

import argparse
import sys

from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.replica", description="Local replica of politics.gmw.cn")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--articles", type=int, default=60, help="regular articles (1 to 100000)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-faults", action="store_true", help="serve the fault pages as plain articles")
    parser.add_argument("--no-validators", action="store_true", help="no ETag / Last-Modified, never 304")
    args = parser.parse_args(argv)
    if not 1 <= args.articles <= 100_000:
        parser.error("--articles must be between 1 and 100000")
    server = serve(args.host, args.port, args.articles, args.seed, args.latency, not args.no_faults,
                   not args.no_validators)
    print(server.base_url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
