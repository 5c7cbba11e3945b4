"""hfspider's scrapy sub-commands (COMMANDS_MODULE)."""
