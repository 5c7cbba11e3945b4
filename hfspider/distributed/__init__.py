"""One crawl, many workers: ``REDIS_URL`` puts the frontier, the seen-set and the quota into Redis.

Built on scrapy-redis (its scheduler, queue and dupefilter), extended where a
crawl that must end exactly needs more than it gives: start requests seeded
once, first visits deduplicated by model and depth, workers that died with
requests in flight, and one worker that notices the end and completes the run.
"""
