"""Where a crawl keeps its local state: the SQLite seen-store, rows PostgreSQL could not take,
run reports of runs that have no local feed.

The first of these that applies:

1. `GMW_STATE_DIR` (setting or environment variable): what an operator chose;
2. `.scrapy/gmw/` of the project, when the crawl runs in a project folder (a `scrapy.cfg` in
   the working directory or above it) — what `scrapy crawl` on a laptop has always used;
3. `$XDG_STATE_HOME/gmwcrawler`, by default `~/.local/state/gmwcrawler`: a scrapyd job (its
   working directory is scrapyd's, the code an egg), a cron job or a unit started elsewhere.

Scrapy's own `data_path()` knows only case 2 and raises NotConfigured everywhere else, which
is how a scrapyd job lost its seen-store. The units of deploy/systemd set
GMW_STATE_DIR to their `StateDirectory=`, the one place `ProtectSystem=strict` leaves writable.
"""

from __future__ import annotations

import os
from pathlib import Path

from scrapy.settings import BaseSettings
from scrapy.utils.conf import closest_scrapy_cfg
from scrapy.utils.project import project_data_dir

from gmwcrawler import defaults


class StateDirError(Exception):
    """The state directory cannot be created or written; the message says which and why."""


def state_dir(settings: BaseSettings) -> Path:
    explicit = defaults.get(settings, "GMW_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if closest_scrapy_cfg():
        return Path(project_data_dir()) / "gmw"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gmwcrawler"


def state_path(settings: BaseSettings, *parts: str) -> Path:
    return state_dir(settings).joinpath(*parts)


def where(settings: BaseSettings) -> str:
    """Which rule chose the state directory, for log lines and error messages."""
    if defaults.get(settings, "GMW_STATE_DIR"):
        return "GMW_STATE_DIR"
    return "the project folder" if closest_scrapy_cfg() else "no project folder here: XDG_STATE_HOME or ~/.local/state"


def writable_dir(path: Path) -> Path:
    """Create `path` if needed and prove a file can be written in it, or raise StateDirError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StateDirError(f"cannot write to {path}: {exc.strerror or exc}") from None
    return path
