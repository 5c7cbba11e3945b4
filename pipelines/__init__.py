"""Item pipelines: normalize, dedupe, store; tree derivation from the store."""
