"""Packaging for scrapyd: the egg holds the production package only (no tests, replica or bench).

install_requires are the ranges the code supports (issue #15); requirements.txt is the pinned set
the test suite passes on, and .ci/run also runs the crawl and distributed tests against the newest
releases of scrapy, scrapy-redis, redis, itemloaders and w3lib, so a release that breaks a guarantee
turns CI red before anyone installs it. Lower bounds are what was tested (scrapy 2.19: the public
engine.scheduler, gmwcrawler/distributed/leases.py); upper bounds are the next major release.
"""

from setuptools import find_packages, setup

REQUIRES = [
    "scrapy>=2.19,<3",
    "scrapy-redis>=0.9.1,<0.10",
    "redis>=8.1,<9",
    "itemloaders>=1.5,<2",
    "w3lib>=2.5,<3",
    "lxml-html-clean>=0.4.6",
    "psycopg[binary]>=3.3,<4",
    "ftfy>=6.3,<7",
    "numpy>=2.4,<3",
    "prometheus-client>=0.26,<1",
]

setup(
    name="gmwcrawler",
    version="0.1.0",
    packages=find_packages(include=["gmwcrawler", "gmwcrawler.*"]),
    package_data={"gmwcrawler.postgres.migrations": ["*.sql"]},
    entry_points={"scrapy": ["settings = gmwcrawler.settings"]},
    python_requires=">=3.11",
    install_requires=REQUIRES,
)
