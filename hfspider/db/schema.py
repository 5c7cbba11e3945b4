"""The database tables, in SQLAlchemy Core so one definition serves SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from hfspider.hub.records import TIME_FORMAT

metadata = MetaData()

ID = String(200)  # owner (96) + "/" + name (96), with room to spare; ids are validated before they get here
TIME = String(20)  # ISO-8601 UTC, "2025-01-26T12:05:50Z": sorts as text everywhere
JSONDoc = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")  # None is SQL NULL

models = Table(
    "models",
    metadata,
    Column("id", ID, primary_key=True),
    # Free text from the Hub: no length limit, so one odd record cannot fail a batch on PostgreSQL.
    Column("author", Text),
    Column("sha", Text),
    Column("created_at", TIME),
    Column("last_modified", TIME),
    Column("private", Boolean),
    Column("gated", Text),
    Column("disabled", Boolean),
    Column("downloads", BigInteger),
    Column("downloads_all_time", BigInteger),
    Column("likes", BigInteger),
    Column("trending_score", Float),
    Column("library_name", Text),
    Column("pipeline_tag", Text),
    Column("license", Text),
    Column("num_parameters", BigInteger),
    Column("tags", JSONDoc),
    Column("card_data", JSONDoc),
    Column("fetched_at", TIME),
    # When the model was first stored (kept on later writes): a walk of the whole Hub for one family
    # removes the rows it added for models outside the family, and only those.
    Column("first_seen_at", TIME, info={"insert_only": True}),
    # Set when a complete walk of the whole Hub no longer listed the model; trees leave such models out.
    Column("deleted_at", TIME),
    Index("ix_models_deleted", "deleted_at"),
    Index("ix_models_lower_id", func.lower(text("id"))),  # the Hub's ids are case-insensitive
)

edges = Table(
    "edges",
    metadata,
    Column("child_id", ID, primary_key=True),
    Column("parent_id", ID, primary_key=True),
    Column("relation", String(20), primary_key=True),
    Column("source", String(20), nullable=False),
    Index("ix_edges_parent", "parent_id"),
)

tree_members = Table(
    "tree_members",
    metadata,
    Column("root_id", ID, primary_key=True),
    Column("model_id", ID, primary_key=True),
    Column("depth", Integer, nullable=False),
)

crawl_runs = Table(
    "crawl_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spider", String(50), nullable=False),
    # Same spider and arguments, same key: how a run finds the unfinished crawl it resumes.
    Column("crawl_key", String(40), nullable=False, index=True),
    Column("arguments", JSONDoc),
    Column("started_at", TIME, nullable=False),
    Column("finished_at", TIME),
    Column("outcome", String(50), nullable=False),
    Column("stats", JSONDoc),
)

# Models whose children an unfinished crawl has fully listed; cleared when the crawl finishes.
crawl_state = Table(
    "crawl_state",
    metadata,
    Column("crawl_key", String(40), primary_key=True),
    Column("model_id", ID, primary_key=True),
)

failures = Table(
    "failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("crawl_key", String(40), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("model_id", ID),
    Column("status", Integer),
    Column("error", Text, nullable=False),
    Column("failed_at", TIME, nullable=False),
)

# Where an unfinished listing walk (hub_index) goes on: the next page's URL.
walk_state = Table(
    "walk_state",
    metadata,
    Column("crawl_key", String(40), primary_key=True),
    Column("next_url", Text, nullable=False),
)

# What a model page shows beyond the record: the Model tree panel's counts (NULL where it shows
# none) and the Spaces count; `unseen` names the sections the page left to a browser.
page_facts = Table(
    "page_facts",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("fetched_at", TIME, nullable=False),
    Column("finetunes", Integer),
    Column("adapters", Integer),
    Column("quantizations", Integer),
    Column("merges", Integer),
    Column("spaces", Integer),
    Column("unseen", Text),
)

# Spaces, datasets, papers and collections around a model, by the ids the Hub writes.
links = Table(
    "links",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("target", String(300), primary_key=True),
    Index("ix_links_target", "kind", "target"),
)

# Model cards (README.md), secrets masked; NULL text: no card (404) or refused (401/403), see status.
cards = Table(
    "cards",
    metadata,
    Column("model_id", ID, primary_key=True),
    Column("text", Text),
    Column("length", Integer),
    Column("status", Integer, nullable=False),
    Column("fetched_at", TIME, nullable=False),
)


def now() -> str:
    """The current time in the stored format."""
    return datetime.now(UTC).strftime(TIME_FORMAT)
