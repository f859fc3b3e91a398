#!/usr/bin/env bash
# One command installs everything: a virtual environment in .venv with the pinned packages
# (requirements.txt: the crawler and its tests; bench/requirements.txt: what the benchmarks compare against).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# The alternatives the benchmarks compare against (bench/README.md); not needed to crawl.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
