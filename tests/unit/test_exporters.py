"""The JSON Lines exporter: one line per item, whichever way the items come."""

from __future__ import annotations

import io
import json
from dataclasses import asdict

from hfspider.exporters import JsonLinesExporter
from hfspider.items import EdgeItem, ModelItem


def lines(write: str, items: list[object]) -> list[dict[str, object]]:
    file = io.BytesIO()
    exporter = JsonLinesExporter(file)
    exporter.start_exporting()
    if write == "many":
        exporter.export_items(items)
    else:
        for item in items:
            exporter.export_item(item)
    exporter.finish_exporting()
    text = file.getvalue().decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == len(items)
    return [json.loads(line) for line in text.splitlines()]


def test_one_line_per_item_in_order_whether_one_by_one_or_many() -> None:
    items: list[object] = [
        ModelItem("org/a", likes=3, tags=["x", "ü"], card_data={"license": "mit", "n": [1, 2.5, None]}),
        EdgeItem("org/a", "org/base", "finetune", "tags"),
        ModelItem("org/b", num_parameters=2**70),  # past 64 bits: orjson refuses it, Scrapy's own path writes it
        {"not": "an hfspider item"},
    ]
    expected = [asdict(item) if not isinstance(item, dict) else item for item in items]
    assert lines("one", items) == expected
    assert lines("many", items) == expected
    assert lines("many", items[:2]) == expected[:2]
