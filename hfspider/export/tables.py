"""Parquet and CSV: one file per stored table, written batch by batch.

JSON columns (``tags``, ``card_data``) are JSON text in both, as the database holds
them: ``json.loads`` gives the value back.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hfspider.db import Database
from hfspider.export.graph import Report

_ARROW = {"text": pa.string(), "integer": pa.int64(), "real": pa.float64(), "boolean": pa.bool_(), "json": pa.string()}


def write_parquet(db: Database, folder: Path, counted: Report) -> list[Path]:
    written: list[Path] = []
    done = 0
    for name in db.export_tables():
        columns = db.table_columns(name)
        schema = pa.schema([(column, _ARROW[kind]) for column, kind in columns])
        path = folder / f"{name}.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            for batch in db.table_rows(name):
                arrays = [pa.array(values, type=_ARROW[kind]) for values, (_c, kind) in zip(zip(*batch, strict=True), columns, strict=True)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                done += len(batch)
                counted(done)
        written.append(path)
    return written


def write_csv(db: Database, folder: Path, counted: Report) -> list[Path]:
    written: list[Path] = []
    done = 0
    for name in db.export_tables():
        columns = db.table_columns(name)
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([c for c, _k in columns])
            for batch in db.table_rows(name):
                writer.writerows(batch)
                done += len(batch)
                counted(done)
        written.append(path)
    return written
