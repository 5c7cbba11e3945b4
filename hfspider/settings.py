"""hfspider's settings, top to bottom. Override any of them with ``-s NAME=VALUE``."""

from scrapy.settings import default_settings

# -- The Hub ----------------------------------------------------------------
# Base URL of the Hub. The environment variable HF_ENDPOINT wins over this
# setting, as it does for huggingface_hub. The token is read from HF_TOKEN
# (or HUGGING_FACE_HUB_TOKEN, or $HF_HOME/token) and is never a setting, so it
# cannot end up in a stats dump or a log of settings.
HF_ENDPOINT = "https://huggingface.co"
# model_tree's -a strategy=auto weighs listing a family (a call per member) against walking the
# whole Hub (a call per 1,000 models). A walk is priced at the last complete walk's page count,
# or at this many pages when none is stored (the Hub held about 3.1 million models in 2026).
HFSPIDER_INDEX_PAGES = 3100
# A stored index of the whole Hub younger than this many seconds is refreshed (models modified
# since it was taken), not walked again.
HFSPIDER_INDEX_MAX_AGE = 86400

# -- Output -----------------------------------------------------------------
# Folder for hfspider.sqlite, the feeds and trees/.
HFSPIDER_OUTPUT = "output"
# Any SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...); empty means
# sqlite:///<HFSPIDER_OUTPUT>/hfspider.sqlite.
HFSPIDER_DB_URL = ""
# Rows per database transaction (at most; hub_index takes 50,000: see there), and the longest time
# an answer waits in memory: a kill loses at most that much of what the Hub already answered (a
# family crawl of a fast Hub gets about 150 answers a second; writing them every quarter second
# instead of every second cost nothing measurable).
HFSPIDER_BATCH_SIZE = 1000
HFSPIDER_FLUSH_SECONDS = 0.25
# Write the batches from a process of their own (hfspider.db.writer), on a second core; hub_index
# does, where the upserts cost as much as the rest of the crawl.
HFSPIDER_WRITER_PROCESS = False

FEED_URI_PARAMS = "hfspider.feeds.uri_params"
FEED_STORAGES = {"": "hfspider.feeds.AtomicFileFeedStorage", "file": "hfspider.feeds.AtomicFileFeedStorage"}
FEED_STORE_EMPTY = False
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORTERS = {"jsonlines": "hfspider.exporters.JsonLinesExporter"}
FEEDS = {
    "%(output)s/models.jsonl": {"format": "jsonlines", "item_classes": ["hfspider.items.ModelItem"], "overwrite": True},
    "%(output)s/edges.jsonl": {"format": "jsonlines", "item_classes": ["hfspider.items.EdgeItem"], "overwrite": True},
}

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.dedupe.DedupePipeline": 200,
    "pipelines.store.StorePipeline": 300,
}

# -- The website (model_pages) ----------------------------------------------
# Render model pages in Chromium (scrapy-playwright): "never"; "auto", a page whose HTML leaves the
# Model tree or the Spaces to the browser (an empty hydration target) is fetched again through it;
# "always", every page. The browser is the system's Chromium (found on the PATH, or give
# PLAYWRIGHT_LAUNCH_OPTIONS = {"executable_path": ...}); each render counts in the pages budget.
HFSPIDER_RENDER = "never"
# Seconds a rendered page may take to build its sections.
HFSPIDER_RENDER_TIMEOUT = 15.0
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {"headless": True}
PLAYWRIGHT_MAX_CONTEXTS = 1
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_ABORT_REQUEST = "hfspider.render.blocked"
PLAYWRIGHT_PROCESS_REQUEST_HEADERS = "hfspider.render.hub_headers"

# -- Crawling ---------------------------------------------------------------
BOT_NAME = "hfspider"
SPIDER_MODULES = ["hfspider.spiders"]
NEWSPIDER_MODULE = "hfspider.spiders"
COMMANDS_MODULE = "hfspider.commands"
USER_AGENT = "hfspider/0.1 (Scrapy; model genealogy research)"

# robots.txt governs the HTML pages (model_pages), not the API or the files: API and file requests
# are marked exempt (middlewares/slots.py).
ROBOTSTXT_OBEY = True
# The quota, not concurrency, is what limits a crawl of the real Hub: the
# rate-limit gate (middlewares/ratelimit.py) spaces the calls. Concurrency only
# has to hide latency, and caps it: a slow Hub gets at most 32 calls at a time,
# so fewer a second (32 / latency).
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 32
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 60
# AutoThrottle aiming at the same 32 in flight would only repeat that cap, through a delay between
# requests that a busy crawl overshoots: a 2,930-model family at 40 ms took 7.3 s with it, 6.1 without.
# For a user who turns it on: no start delay, and the same target.
AUTOTHROTTLE_ENABLED = False
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 32.0
# CPU per response: Scrapy re-parses a callback's source for this warning on
# nearly every response, and 100 concurrent items per response start thousands
# of tasks for nothing when the pipelines are synchronous.
WARN_ON_GENERATOR_RETURN_VALUE = False
CONCURRENT_ITEMS = 8
# Breadth-first-ish order keeps the queue small on wide families.
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
# Hub requests go to one download slot per budget (api, pages, resolvers); this queue hands out the
# slot with the fewest requests under way, so pages waiting for their window never hold up API calls.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
SPIDER_MIDDLEWARES = {
    "hfspider.middlewares.slots.BucketSlotMiddleware": 900,
    # Hub calls need no Referer, and a long URL is the Hub's to refuse (recorded in failures), not
    # a request to drop: each of them cost a pass over every request a callback yields.
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

DOWNLOADER_MIDDLEWARES = {
    # Before RobotsTxtMiddleware (100): a request's budget decides its slot and whether robots.txt applies.
    "hfspider.middlewares.slots.BucketSlotMiddleware": 50,
    # These sit after Retry (550) and Redirect (600): a second pass waits its back-off, a 429 is
    # waited out before Retry sees it, and the token is added last and removed first.
    "hfspider.middlewares.superseded.SupersededMiddleware": 800,
    "hfspider.middlewares.backoff.BackoffMiddleware": 850,
    "hfspider.middlewares.ratelimit.RateLimitMiddleware": 900,
    "hfspider.middlewares.auth.HubAuthMiddleware": 950,
    # API calls need no Referer on a redirect (and hub_index runs without the Referer middleware).
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "hfspider.middlewares.redirect.NoRefererRedirectMiddleware": 600,
}
# The Hub's API and pages are read without cookies (a token goes in a header). Scrapy loads every
# middleware it names, enabled or not, to sort them: its list less the cookie middleware, whose
# import alone (tldextract, requests) cost every crawl a twentieth of a second.
COOKIES_ENABLED = False
DOWNLOADER_MIDDLEWARES_BASE = {
    path: order
    for path, order in default_settings.DOWNLOADER_MIDDLEWARES_BASE.items()
    if path != "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
}
# The Hub API answers JSON; an HTML meta refresh is never one of its answers.
METAREFRESH_ENABLED = False
# A body that is not JSON is retried from the callback with get_retry_request, which carries
# retry_times (and the copied download_latency) on purpose: not a meta copied by mistake.
META_COPY_WARN_SKIP_KEYS = ["retry_times", "download_latency"]
# A Hub answer is a few MB at most (1,000 models with their cards); anything far bigger is refused
# (and recorded in failures) rather than stored. Scrapy's default is 1 GB.
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 5
# A request that still fails after RETRY_TIMES is asked again later in the same run, after the
# others, this many times, waiting HFSPIDER_RETRY_PASS_DELAY seconds times the pass number first;
# only then is it written to failures. A 4xx other than 408 and 429 is final at once.
HFSPIDER_RETRY_PASSES = 2
HFSPIDER_RETRY_PASS_DELAY = 10.0
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]

# Scrapy 2.19 turns this on by default; it runs code sent to a local port.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

LOG_LEVEL = "INFO"
LOG_FORMATTER = "hfspider.logformatter.QuietLogFormatter"
# Scrapy loads every extension it names, enabled or not, to sort them: the two disabled above
# (remote control, telnet) cost a crawl's start-up half a second of imports (aiohttp, twisted.conch).
# Scrapy's own list, less those two; EXTENSIONS below changes it as usual.
EXTENSIONS_BASE = {
    path: order
    for path, order in default_settings.EXTENSIONS_BASE.items()
    if path not in ("scrapy.extensions.remote_control.RemoteControl", "scrapy.extensions.telnet.TelnetConsole")
}
# A progress line (models stored, requests, queue, quota, 429s, retries, failures) every 30 s.
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    # Feeds get a Bundle's models and edges one by one (hfspider/feeds.py).
    "scrapy.extensions.feedexport.FeedExporter": None,
    "hfspider.feeds.FeedExporter": 0,
    "hfspider.extensions.progress.Progress": 0,
    # The run: crawl key, resume plan, JOBDIR check (before the scheduler opens its queue), trees, outcome.
    "hfspider.extensions.crawlrun.CrawlRun": 0,
    # Python's cycle collector, tuned for millions of live objects (extensions/collector.py).
    "hfspider.extensions.collector.FewerCollections": 0,
}
LOGSTATS_INTERVAL = 30.0

# -- One crawl, many workers (scrapy-redis) -----------------------------------
# A Redis URL (redis://HOST:6379/0) makes every model_tree worker started with it and the same
# arguments one crawl: one frontier and seen-set, one quota per token, one end (see README).
# Empty: a crawl in this process alone. Needs a PostgreSQL HFSPIDER_DB_URL that every worker reaches.
REDIS_URL = ""
# Every key hfspider keeps in Redis starts with this (crawls by crawl key, quotas by Hub and token).
HFSPIDER_REDIS_PREFIX = "hfspider"
# A worker whose heartbeat is older than this is taken for dead: what it had not stored is crawled again.
HFSPIDER_WORKER_TIMEOUT = 30.0
ADDONS = {"hfspider.distributed.addon.SharedCrawlAddon": 0}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
