"""The database layer: the only code that imports SQLAlchemy."""

from hfspider.db.database import Batch, Database, Listing, Run, Summary, open_database
from hfspider.db.engine import DatabaseError, database_url, dispose, one_line, shown
from hfspider.db.schema import TIME_FORMAT, now

__all__ = [
    "TIME_FORMAT",
    "Batch",
    "Database",
    "DatabaseError",
    "Listing",
    "Run",
    "Summary",
    "database_url",
    "dispose",
    "now",
    "one_line",
    "open_database",
    "shown",
]
