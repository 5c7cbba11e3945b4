"""GraphML written as a stream (networkx's writer builds the whole graph in memory first)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hfspider.db import Database
from hfspider.export.graph import EDGE_ATTRIBUTES, NODE_ATTRIBUTES, Report, edges, nodes, xml_text


def write_graphml(db: Database, path: Path, counted: Report) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
        for name, kind in NODE_ATTRIBUTES:
            out.write(f'<key id="{name}" for="node" attr.name="{name}" attr.type="{kind}"/>\n')
        for name, kind in EDGE_ATTRIBUTES:
            out.write(f'<key id="{name}" for="edge" attr.name="{name}" attr.type="{kind}"/>\n')
        out.write('<graph id="hfspider" edgedefault="directed">\n')
        for model, attrs in nodes(db, counted):
            data = "".join(f'<data key="{k}">{escape(xml_text(v))}</data>' for k, v in attrs.items())
            out.write(f"<node id={quoteattr(xml_text(model))}>{data}</node>\n")
        for parent, child, attrs in edges(db):
            data = "".join(f'<data key="{k}">{escape(xml_text(v))}</data>' for k, v in attrs.items())
            out.write(f"<edge source={quoteattr(xml_text(parent))} target={quoteattr(xml_text(child))}>{data}</edge>\n")
        out.write("</graph>\n</graphml>\n")
