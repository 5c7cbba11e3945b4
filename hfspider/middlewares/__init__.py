"""Downloader middlewares: what happens to a request on its way to the Hub and back."""
