"""One module per crawl mode."""
