"""``scrapy report``: analysis.json, CSV tables, plots, index.html and one interactive page per family."""
