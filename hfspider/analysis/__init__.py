"""The study's measures over plain Python data: no database, no files, no plotting.

``corpus`` reads models into a compact form, one module per measure computes
from it, and ``measures.analyse`` gathers them under the keys the report writes.
"""
