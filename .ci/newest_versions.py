"""Which of the packages the crawler stands on differ from their pins here (issue #15): the line
CI prints before, and again after a failure of, the tests run with the newest releases."""

import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

PACKAGES = ("scrapy", "scrapy-redis", "redis", "itemloaders", "w3lib")
pins = {}
for line in (Path(__file__).resolve().parent.parent / "requirements.txt").read_text().splitlines():
    line = line.split("#")[0].strip()
    if line:
        requirement = Requirement(line)
        pins[requirement.name] = next(iter(requirement.specifier)).version
parts = []
for name in PACKAGES:
    installed = version(name)
    parts.append(f"{name} {installed}" + ("" if installed == pins.get(name) else f" (pinned {pins.get(name)})"))
print(("" if len(sys.argv) < 2 else sys.argv[1] + " ") + ", ".join(parts))
