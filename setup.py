"""Packaging for scrapyd: the egg holds the production package only (no tests, replica or bench)."""

from setuptools import find_packages, setup

setup(
    name="gmwcrawler",
    version="0.1.0",
    packages=find_packages(include=["gmwcrawler", "gmwcrawler.*"]),
    package_data={"gmwcrawler.migrations": ["*.sql"]},
    entry_points={"scrapy": ["settings = gmwcrawler.settings"]},
    python_requires=">=3.11",
)
