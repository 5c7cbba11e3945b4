"""scrapy report: the study's measures from a crawled database, checked against independent counts."""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pycountry
import pytest

from hfspider.db import dispose, open_database
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from hfspider.staging import staged
from tests.conftest import crawl
from tests.reporting import scrapy, study_edges

SEED = 3


@pytest.fixture(scope="module")
def synthetic_hub() -> list[dict[str, Any]]:
    return generate(1500, seed=SEED)


@pytest.fixture(scope="module")
def family_crawl(tmp_path_factory: pytest.TempPathFactory, synthetic_hub: list[dict[str, Any]]) -> tuple[Path, list[str]]:
    """The two largest synthetic families crawled with model_tree."""
    truth = Truth(synthetic_hub)
    tops = [m for m in truth.public if m in truth.children and not truth.parents.get(m)]
    roots = sorted(tops, key=lambda m: (-len(truth.down(m)), m))[:2]
    output = tmp_path_factory.mktemp("family") / "out"
    with ReplicaServer(Hub(synthetic_hub)) as server:
        result = crawl(output, "model_tree", f"root={','.join(roots)}", endpoint=server.url, settings={"LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr[-2000:]
    return output, roots


@pytest.fixture(scope="module")
def family_report(family_crawl: tuple[Path, list[str]]) -> tuple[Path, list[str]]:
    output, roots = family_crawl
    done = scrapy(output, "report")
    assert done.returncode == 0, done.stderr
    return output / "report", roots


def analysis(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "analysis.json").read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def test_report_of_one_family_after_model_tree(family_crawl, synthetic_hub, tmp_path: Path) -> None:
    output, (root, other) = family_crawl
    done = scrapy(output, "report", root.upper(), "-o", str(tmp_path / "one"))  # ids are case-insensitive, as on the Hub
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report: {tmp_path / 'one' / 'index.html'}"
    assert "report: measuring orderings" in done.stderr and "models read" in done.stderr  # the progress line
    found = analysis(tmp_path / "one")
    truth = Truth(synthetic_hub)
    depth = truth.down(root)
    inside = {(c, p, r) for c, p, r in truth.edges(depth) if p in depth}
    by_depth = Counter(depth.values())
    assert found["models"] == len(depth)
    assert set(found["families"]) == {root}
    assert found["families"][root] == {
        "size": len(depth),
        "max_depth": max(by_depth),
        "width": max(by_depth.values()),
        "leaves": len(set(depth) - {p for _c, p, _r in inside}),
        "by_depth": {str(d): n for d, n in sorted(by_depth.items())},
        "edges": {r: sum(1 for e in inside if e[2] == r) for r in ("finetune", "quantized", "adapter", "merge", "unknown")},
    }
    assert found["edge_counts"]["all"] == len(inside)
    assert (tmp_path / "one" / "trees" / f"{root.replace('/', '--')}.html").exists()
    assert not (tmp_path / "one" / "trees" / f"{other.replace('/', '--')}.html").exists()


def test_report_without_roots_covers_every_family(family_report, synthetic_hub) -> None:
    folder, roots = family_report
    found = analysis(folder)
    truth = Truth(synthetic_hub)
    assert set(found["families"]) == set(roots)
    assert {r: f["size"] for r, f in found["families"].items()} == {r: len(truth.down(r)) for r in roots}
    assert set(found) >= {
        "edge_counts",
        "children_with_children",
        "mutation_rates",
        "orderings",
        "families",
        "components",
        "top",
        "language_count_drift",
        "card_drift",
        "created_at_by_month",
    }
    assert found["card_drift"] == {"reason": "no cards in the database: crawl with -a cards=1 to fetch them"}
    rows = {row["relation"]: row for row in read_csv(folder / "csv" / "edge_counts.csv")}
    assert {r: int(rows[r]["edges"]) for r in rows} == {"all": found["edge_counts"]["all"]} | {
        r: found["edge_counts"][r] for r in ("finetune", "quantized", "adapter", "merge", "unknown")
    }
    families = {row["root"]: int(row["size"]) for row in read_csv(folder / "csv" / "families.csv")}
    assert families == {r: len(truth.down(r)) for r in roots}
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "created_by_month.png",
        "depth_histograms.png",
        "family_sizes.png",
        "license_transitions.png",
        "relation_mix.png",
    ]


def local_optimum(order: list[str], weights: dict[tuple[str, str], int]) -> bool:
    """No single value moved elsewhere gives more forward weight: an exact optimum passes this."""

    def score(o: list[str]) -> int:
        position = {v: i for i, v in enumerate(o)}
        return sum(w for (a, b), w in weights.items() if a in position and b in position and position[a] < position[b])

    best = score(order)
    for i, j in itertools.permutations(range(len(order)), 2):
        moved = order[:i] + order[i + 1 :]
        moved.insert(j, order[i])
        if score(moved) > best:
            return False
    return True


#: The families of ../shared/data/README.md: size and models by depth.
REAL_FAMILIES = {
    "deepseek-ai/DeepSeek-V3": (141, {"0": 1, "1": 133, "2": 7}),
    "stabilityai/stable-diffusion-3-medium": (82, {"0": 1, "1": 78, "2": 3}),
    "deepseek-ai/Janus-Pro-7B": (37, {"0": 1, "1": 34, "2": 2}),
    "hexgrad/Kokoro-82M": (32, {"0": 1, "1": 31}),
    "THUDM/CogVideoX-5b": (26, {"0": 1, "1": 25}),
    "LGAI-EXAONE/EXAONE-Deep-32B": (16, {"0": 1, "1": 15}),
    "WarriorMama777/OrangeMixs": (11, {"0": 1, "1": 10}),
    "bigscience/bloom": (7, {"0": 1, "1": 6}),
}


@pytest.mark.usefixtures("real_records")
def test_report_after_hub_index_of_the_real_families(real_records, tmp_path: Path) -> None:
    with ReplicaServer(Hub(real_records)) as server:
        result = crawl(tmp_path / "out", "hub_index", endpoint=server.url, settings={"LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr[-2000:]
    not_derived = one_line_error(scrapy(tmp_path / "out", "report", "deepseek-ai/DeepSeek-V3"))
    assert not_derived.endswith(
        "no family stored for deepseek-ai/DeepSeek-V3; derive it from the stored edges: scrapy tree deepseek-ai/DeepSeek-V3"
    )
    derived = scrapy(tmp_path / "out", "tree", *REAL_FAMILIES)
    assert derived.returncode == 0, derived.stderr
    done = scrapy(tmp_path / "out", "report")
    assert done.returncode == 0, done.stderr
    found = analysis(tmp_path / "out" / "report")
    assert {root: (f["size"], f["by_depth"]) for root, f in found["families"].items()} == REAL_FAMILIES
    records = [r for r in real_records if not r.get("private")]
    edges = study_edges(records)
    by_id = {r["id"]: r for r in records}
    assert found["models"] == len(records)
    relations = Counter(edges.values())
    assert found["edge_counts"]["all"] == len(edges)
    assert {r: found["edge_counts"][r] for r in relations} == dict(relations)

    graph = nx.DiGraph([(p, c) for (c, p), r in edges.items() if r != "merge"])
    for relation in ("finetune", "quantized", "adapter"):
        mine = [c for (c, _p), r in edges.items() if r == relation]
        onward = sum(1 for c in mine if c in graph and graph.out_degree(c) > 0)
        assert found["children_with_children"][relation]["edges"] == len(mine)
        assert found["children_with_children"][relation]["child_has_children"] == onward

    def licenses(model: str) -> set[str]:
        return {t.split(":", 1)[1] for t in by_id[model].get("tags") or [] if t.startswith("license:")}

    ft = [(c, p) for (c, p), r in edges.items() if r == "finetune" and licenses(c) and licenses(p)]
    mutations = sum(len(licenses(c) ^ licenses(p)) / len(licenses(c) | licenses(p)) for c, p in ft)
    assert found["mutation_rates"]["license"]["traffic"] == len(ft)
    assert found["mutation_rates"]["license"]["mutations"] == pytest.approx(mutations)

    graph.add_nodes_from(by_id)
    sizes = sorted((len(c) for c in nx.weakly_connected_components(graph)), reverse=True)
    assert [c["size"] for c in found["components"]["largest"]] == sizes[:10]
    assert found["components"]["count"] == len(sizes)
    named = {c["root"] for c in found["components"]["largest"]}
    assert {"deepseek-ai/DeepSeek-V3", "stabilityai/stable-diffusion-3-medium", "hexgrad/Kokoro-82M"} <= named

    languages = {m: {t for t in by_id[m].get("tags") or [] if len(t) == 2 and pycountry.languages.get(alpha_2=t)} for m in by_id}
    assert found["language_count_drift"]["all"] == {
        "edges": len(edges),
        "parent": sum(len(languages[p]) for _c, p in edges) / len(edges),
        "child": sum(len(languages[c]) for c, _p in edges) / len(edges),
    }
    months = Counter(r["createdAt"][:7] for r in records if r.get("createdAt"))
    assert found["created_at_by_month"]["all"] == dict(sorted(months.items()))

    license_counts = Counter(lic for m in by_id for lic in licenses(m))
    assert found["top"]["licenses"][0]["models"] == max(license_counts.values())
    for name in ("license", "task", "library"):
        order = found["orderings"][name]
        weights = {(a, b): 0 for a, b, _n in order["transitions"]}
        raw = Counter({(a, b): n for a, b, n in order["transitions"]})
        for a, b in list(weights):
            weights[(a, b)] = max(0, raw[(a, b)] - raw[(b, a)])
        assert local_optimum(order["order"], {k: v for k, v in weights.items() if v})
        position = {v: i for i, v in enumerate(order["order"])}
        forward = sum(n for (a, b), n in raw.items() if position[a] < position[b])
        assert order["explained"] == pytest.approx(forward / sum(raw.values()))


def one_line_error(done: Any) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert errors == lines[-1:], done.stderr  # Scrapy's usage header, then the one line of the error
    assert done.returncode == 2
    return errors[0]


def test_bad_input_is_one_line_and_writes_nothing(family_crawl, tmp_path: Path) -> None:
    missing = one_line_error(scrapy(tmp_path / "nothing", "report"))
    assert "no database at" in missing and "crawl first" in missing
    assert not (tmp_path / "nothing").exists()

    empty = tmp_path / "empty"
    url = f"sqlite:///{empty / 'hfspider.sqlite'}"
    empty.mkdir()
    open_database(url)  # the tables, no model
    dispose(url)
    assert "holds no models" in one_line_error(scrapy(empty, "report"))
    assert not (empty / "report").exists()

    output, _roots = family_crawl
    target = tmp_path / "kept"
    target.mkdir()
    (target / "index.html").write_text("an earlier report")
    (target / "analysis.json").write_text("{}")
    unknown = one_line_error(scrapy(output, "report", "no-such/model", "-o", str(target)))
    assert "not in the database: no-such/model; crawl it: scrapy crawl model_tree -a root=no-such/model" in unknown
    assert sorted(p.name for p in target.iterdir()) == ["analysis.json", "index.html"]  # an earlier report stays as it was
    assert (target / "index.html").read_text() == "an earlier report"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's own file")
    assert "not a report" in one_line_error(scrapy(output, "report", "-o", str(mine)))
    assert (mine / "notes.txt").read_text() == "a user's own file"

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert "cannot write the report" in one_line_error(scrapy(output, "report", "-o", str(blocker / "report")))
    assert "is a file" in one_line_error(scrapy(output, "report", "-o", str(blocker)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "empty", "kept", "mine"]
    assert not [p for p in tmp_path.rglob("*partial*")]


def test_a_failed_report_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.mkdir()
    (target / "index.html").write_text("old")
    with pytest.raises(RuntimeError), staged(target) as work:
        (work / "index.html").write_text("half")
        raise RuntimeError("killed half way")
    assert (target / "index.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    with staged(target) as work:
        (work / "index.html").write_text("new")
    assert (target / "index.html").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: errors.append(f"network: {request.url}") if not request.url.startswith("file:") else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


@needs_chromium
def test_index_shows_every_table_and_plot(browser, family_report) -> None:
    folder, roots = family_report
    page, errors = open_page(browser, folder / "index.html")
    csvs = sorted(p.stem for p in (folder / "csv").iterdir())
    assert sorted(page.eval_on_selector_all("table.measure", "ts => ts.map(t => t.dataset.name)")) == csvs
    plots = page.eval_on_selector_all("img.plot", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
    assert sorted(src for src, _loaded in plots) == sorted(f"plots/{p.name}" for p in (folder / "plots").iterdir())
    assert all(loaded for _src, loaded in plots)
    assert sorted(page.eval_on_selector_all("#families a", "as => as.map(a => a.textContent)")) == sorted(roots)
    assert errors == []


@needs_chromium
def test_family_page_draws_searches_and_collapses(browser, family_report, synthetic_hub) -> None:
    folder, roots = family_report
    root = roots[0]
    truth = Truth(synthetic_hub)
    depth = truth.down(root)
    hang = {m: min(p for p, _r in truth.parents[m] if depth.get(p) == d - 1) for m, d in depth.items() if d > 0}
    page, errors = open_page(browser, folder / "trees" / f"{root.replace('/', '--')}.html")
    drawn = page.eval_on_selector_all("g.node", "gs => gs.map(g => g.dataset.id)")
    assert sorted(drawn) == sorted(depth)

    branch = min((m for m in depth if depth[m] == 1 and m in hang.values()), key=lambda m: (-list(hang.values()).count(m), m))
    below = {m for m in depth if m != branch and _under(m, branch, hang)}
    page.click(f'g.node[data-id="{branch}"] circle')
    shown = set(page.eval_on_selector_all("g.node", "gs => gs.map(g => g.dataset.id)"))
    assert shown == set(depth) - below and below
    page.click(f'g.node[data-id="{branch}"] circle')
    assert page.locator("g.node").count() == len(depth)

    target = sorted(below)[0]
    page.click(f'g.node[data-id="{branch}"] circle')  # hidden again: a search must open the way to it
    page.fill("#search", target)
    assert target in page.eval_on_selector_all("g.node.match", "gs => gs.map(g => g.dataset.id)")
    assert page.text_content("#search-status").endswith("found") and "not" not in page.text_content("#search-status")
    page.hover(f'g.node[data-id="{target}"] circle')  # the search brought it to the middle
    assert page.text_content("#tip").startswith(f"{target}\nrelation: ")
    page.fill("#search", "no-such-model-anywhere")
    assert page.text_content("#search-status") == "not found"
    before = page.get_attribute("#view", "transform")
    page.mouse.move(1100, 700)
    page.mouse.wheel(0, -400)
    zoomed = page.get_attribute("#view", "transform")
    assert zoomed != before and "scale(1)" not in zoomed
    page.mouse.down()
    page.mouse.move(900, 500, steps=4)
    page.mouse.up()
    moved = page.get_attribute("#view", "transform")
    assert moved != zoomed and moved.split("scale")[1] == zoomed.split("scale")[1]  # a drag pans, the zoom stays
    page.select_option("#colour", "license")
    assert page.locator("#legend .key").count() >= 2
    assert errors == []


def _under(model: str, branch: str, hang: dict[str, str]) -> bool:
    while model in hang:
        model = hang[model]
        if model == branch:
            return True
    return False


def test_card_drift_reads_a_cards_table(family_crawl, synthetic_hub, tmp_path: Path) -> None:
    source, (root, _other) = family_crawl
    output = tmp_path / "out"
    output.mkdir()
    shutil.copy(source / "hfspider.sqlite", output / "hfspider.sqlite")
    truth = Truth(synthetic_hub)
    depth = truth.down(root)
    children = sorted(m for m, d in depth.items() if d == 1)
    texts: dict[str, str | None] = {root: "# Base model\n" + "é" * 500}  # characters, not bytes
    for i, child in enumerate(children[:12]):
        texts[child] = "x" * (40 + i) + ("\nThis card was Automatically Generated." if i % 3 == 0 else "")
    texts[children[12]] = "abc"  # too short to be a card
    texts[children[13]] = None  # gated: a row without text
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        conn.executemany(  # the crawl made the table; cards=1 fills it
            "INSERT INTO cards (model_id, text, length, status, fetched_at) VALUES (?, ?, ?, ?, '2026-01-01T00:00:00Z')",
            [(m, t, len(t) if t else None, 200 if t else 401) for m, t in texts.items()],
        )
    done = scrapy(output, "report", root)
    assert done.returncode == 0, done.stderr
    drift = analysis(output / "report")["card_drift"]
    cards = {m: t for m, t in texts.items() if t is not None and len(t) > 3}
    inside = [(c, p) for c, p, _r in truth.edges(depth) if p in depth]
    both = [(len(cards[p]), len(cards[c])) for c, p in inside if p in cards and c in cards]
    assert drift["models_with_card"] == len(cards) == 13
    assert drift["all"]["length"] == {
        "edges": len(both),
        "parent": sum(p for p, _c in both) / len(both),
        "child": sum(c for _p, c in both) / len(both),
    }
    with_child = [c for c, _p in inside if c in cards]
    auto = sum(1 for c in with_child if "automatically generated" in cards[c].lower()) / len(with_child)
    assert drift["all"]["auto_generated_share"]["child"] == pytest.approx(auto)
    assert drift["all"]["card_share"]["child"] == pytest.approx(len(with_child) / len(inside))
    assert (output / "report" / "plots" / "card_lengths.png").exists()
    assert (output / "report" / "csv" / "card_drift.csv").exists()


POSTGRES = os.environ.get("HFSPIDER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_postgres_gives_the_same_report(family_crawl, synthetic_hub, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES}")
    schema = f"hfspider_report_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    source, (root, _other) = family_crawl
    try:
        with ReplicaServer(Hub(synthetic_hub)) as server:
            result = crawl(tmp_path / "pg", "model_tree", f"root={root}", endpoint=server.url, settings={"HFSPIDER_DB_URL": url})
        assert result.returncode == 0, result.stderr[-2000:]
        on_postgres = scrapy(tmp_path / "pg", "report", "-s", f"HFSPIDER_DB_URL={url}")
        assert on_postgres.returncode == 0, on_postgres.stderr
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    on_sqlite = scrapy(source, "report", root, "-o", str(tmp_path / "sqlite"))
    assert on_sqlite.returncode == 0, on_sqlite.stderr
    assert analysis(tmp_path / "pg" / "report") == analysis(tmp_path / "sqlite")
