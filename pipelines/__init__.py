"""Item pipelines, in order: normalize, dedupe, store (through ``hfspider.db``)."""
