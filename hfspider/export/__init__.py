"""``scrapy export``: the stored map in the formats researchers load (GraphML, GEXF, Parquet, CSV), streamed."""
