"""hfspider: map the Hugging Face Hub's model genealogy with Scrapy."""
