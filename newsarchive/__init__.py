"""newsarchive: an offline news-archive scraper and full-text search tool."""

__version__ = "0.1.0"
