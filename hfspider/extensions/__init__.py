"""Scrapy extensions: the crawl run's lifecycle, and the progress line."""
