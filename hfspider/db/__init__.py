"""The database layer: the only code that imports SQLAlchemy."""

from hfspider.db.database import INDEX_STAT, Batch, Database, IndexInfo, Listing, Rows, Run, Summary, open_database
from hfspider.db.engine import DatabaseError, database_url, dispose, one_line, shown
from hfspider.db.schema import TIME_FORMAT, now

__all__ = [
    "INDEX_STAT",
    "TIME_FORMAT",
    "Batch",
    "Database",
    "DatabaseError",
    "IndexInfo",
    "Listing",
    "Rows",
    "Run",
    "Summary",
    "database_url",
    "dispose",
    "now",
    "one_line",
    "open_database",
    "shown",
]
