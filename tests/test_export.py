"""scrapy export: GraphML and GEXF read back by networkx, Parquet by pyarrow, CSV by the csv module."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow.parquet as pq
import pytest

from hfspider.replica import Hub, ReplicaServer, generate
from tests.conftest import crawl
from tests.reporting import PRECEDENCE, scrapy

ODD = {"id": "odd/xml-chars", "tags": ["license:a<b&c\"d'e", "region:us"], "pipeline_tag": "x&y", "likes": 3, "downloads": 7}
ODD_CHILD = {
    "id": "odd/child",
    "tags": ["base_model:odd/xml-chars", "base_model:finetune:odd/xml-chars", "base_model:adapter:odd/xml-chars"],
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = [*generate(600, seed=8), ODD, ODD_CHILD]
    output = tmp_path_factory.mktemp("export") / "out"
    with ReplicaServer(Hub(records)) as server:
        result = crawl(output, "hub_index", endpoint=server.url, settings={"LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr[-2000:]
    return output


def stored(output: Path, query: str) -> list[sqlite3.Row]:
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(query).fetchall()


def expected_graph(output: Path) -> tuple[dict[str, sqlite3.Row], dict[tuple[str, str], str]]:
    models = {row["id"]: row for row in stored(output, "SELECT * FROM models")}
    pairs: dict[tuple[str, str], str] = {}
    for row in stored(output, "SELECT parent_id, child_id, relation FROM edges"):
        pair = (row["parent_id"], row["child_id"])
        if pair[0] in models and pair[0] != pair[1]:
            old = pairs.get(pair)
            pairs[pair] = row["relation"] if old is None or PRECEDENCE.index(row["relation"]) > PRECEDENCE.index(old) else old
    return models, pairs


@pytest.mark.parametrize("kind", ["graphml", "gexf"])
def test_graph_formats_round_trip_through_networkx(indexed: Path, kind: str, tmp_path: Path) -> None:
    target = tmp_path / f"map.{kind}"
    done = scrapy(indexed, "export", kind, "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"export: {target}"
    graph = nx.read_graphml(target) if kind == "graphml" else nx.read_gexf(target)
    models, pairs = expected_graph(indexed)
    assert graph.is_directed() and not graph.is_multigraph()
    assert set(graph.nodes) == set(models)
    assert {(a, b): d["relation"] for a, b, d in graph.edges(data=True)} == pairs
    assert ("odd/xml-chars", "odd/child") in pairs
    for model_id, row in models.items():
        attrs = graph.nodes[model_id]
        assert attrs.get("license") == row["license"]
        assert attrs.get("task") == row["pipeline_tag"]
        assert attrs.get("downloads") == row["downloads"] and attrs.get("likes") == row["likes"]
        assert attrs.get("created") == row["created_at"]
        into = [r for (_p, c), r in pairs.items() if c == model_id]
        assert attrs.get("relation") == (max(into, key=PRECEDENCE.index) if into else None)
    assert graph.nodes["odd/xml-chars"]["license"] == "a<b&c\"d'e"


def test_parquet_round_trips_row_for_row(indexed: Path, tmp_path: Path) -> None:
    done = scrapy(indexed, "export", "parquet", "-o", str(tmp_path / "pq"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == ["edges.parquet", "models.parquet", "tree_members.parquet"]
    for name, key in (("models", "id"), ("edges", "child_id, parent_id, relation")):
        rows = [dict(r) for r in stored(indexed, f"SELECT * FROM {name} ORDER BY {key}")]
        back = pq.read_table(tmp_path / "pq" / f"{name}.parquet").to_pylist()
        for row in rows:
            for column in ("tags", "card_data"):
                if column in row and row[column] is not None:
                    row[column] = json.loads(row[column])
            for column in ("private", "disabled"):
                if column in row and row[column] is not None:
                    row[column] = bool(row[column])
        for row in back:
            for column in ("tags", "card_data"):
                if column in row and row[column] is not None:
                    row[column] = json.loads(row[column])
        assert back == rows


def test_csv_has_every_row(indexed: Path) -> None:
    done = scrapy(indexed, "export", "csv")
    assert done.returncode == 0, done.stderr
    folder = indexed / "export" / "csv"
    with (folder / "models.csv").open(encoding="utf-8", newline="") as source:
        back = list(csv.DictReader(source))
    rows = stored(indexed, "SELECT id, likes, tags FROM models ORDER BY id")
    assert [r["id"] for r in back] == [r["id"] for r in rows]
    assert [int(r["likes"]) if r["likes"] else None for r in back] == [r["likes"] for r in rows]
    assert [json.loads(r["tags"]) for r in back] == [json.loads(r["tags"]) for r in rows]
    with (folder / "edges.csv").open(encoding="utf-8", newline="") as source:
        assert len(list(csv.DictReader(source))) == len(stored(indexed, "SELECT 1 FROM edges"))


def error_line(done: Any) -> str:
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert [line for line in lines if "error:" in line] == lines[-1:], done.stderr
    return lines[-1]


def test_export_bad_input(indexed: Path, tmp_path: Path) -> None:
    assert "unknown format 'xml'" in error_line(scrapy(indexed, "export", "xml"))
    assert "no database at" in error_line(scrapy(tmp_path / "none", "export", "csv"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "cannot write" in error_line(scrapy(indexed, "export", "graphml", "-o", str(blocker / "g.graphml")))
    assert "is a file" in error_line(scrapy(indexed, "export", "csv", "-o", str(blocker)))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert "not a csv export" in error_line(scrapy(indexed, "export", "csv", "-o", str(tmp_path / "mine")))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]
