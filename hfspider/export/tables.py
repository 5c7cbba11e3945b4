"""Parquet and CSV: one file per stored table, written batch by batch.

JSON columns (``tags``, ``card_data``) are JSON text in both, as the feeds hold them:
``json.loads`` gives the value back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hfspider.db import Database
from hfspider.export.graph import Report

_ARROW = {"text": pa.string(), "integer": pa.int64(), "real": pa.float64(), "boolean": pa.bool_(), "json": pa.string()}


def _cell(value: Any, kind: str) -> Any:
    return json.dumps(value, ensure_ascii=False) if kind == "json" and value is not None else value


def write_parquet(db: Database, folder: Path, counted: Report) -> list[Path]:
    written: list[Path] = []
    done = 0
    for name in db.export_tables():
        columns = db.table_columns(name)
        schema = pa.schema([(column, _ARROW[kind]) for column, kind in columns])
        path = folder / f"{name}.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            for batch in db.table_rows(name):
                arrays = [pa.array([_cell(row[c], k) for row in batch], type=_ARROW[k]) for c, k in columns]
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
                writer.writerows([_cell(row[c], k) for c, k in columns] for row in batch)
                done += len(batch)
                counted(done)
        written.append(path)
    return written
