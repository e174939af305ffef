"""The demo: a synthetic shop with a real ranker and injected regressions (``setup``)."""
