"""gmwcrawler: crawl the 时政 channel of Guangming Online (politics.gmw.cn)."""

__version__ = "0.1.0"
