"""Everything hfspider knows about the Hub API, as pure functions.

Spiders and pipelines call into this package; nothing here does I/O.
"""
