"""GEXF 1.2 (Gephi's format) written as a stream."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from hfspider.db import Database
from hfspider.export.graph import EDGE_ATTRIBUTES, NODE_ATTRIBUTES, Report, edges, nodes, xml_text


def _values(attrs: dict[str, object]) -> str:
    if not attrs:
        return ""
    inner = "".join(f"<attvalue for={quoteattr(k)} value={quoteattr(xml_text(v))}/>" for k, v in attrs.items())
    return f"<attvalues>{inner}</attvalues>"


def write_gexf(db: Database, path: Path, counted: Report) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n')
        out.write('<graph defaultedgetype="directed" mode="static">\n<attributes class="node" mode="static">\n')
        for name, kind in NODE_ATTRIBUTES:
            out.write(f'<attribute id="{name}" title="{name}" type="{kind}"/>\n')
        out.write('</attributes>\n<attributes class="edge" mode="static">\n')
        for name, kind in EDGE_ATTRIBUTES:
            out.write(f'<attribute id="{name}" title="{name}" type="{kind}"/>\n')
        out.write("</attributes>\n<nodes>\n")
        for model, attrs in nodes(db, counted):
            ident = quoteattr(xml_text(model))
            out.write(f"<node id={ident} label={ident}>{_values(attrs)}</node>\n")
        out.write("</nodes>\n<edges>\n")
        for number, (parent, child, attrs) in enumerate(edges(db)):
            out.write(
                f'<edge id="{number}" source={quoteattr(xml_text(parent))} target={quoteattr(xml_text(child))}>{_values(attrs)}</edge>\n'
            )
        out.write("</edges>\n</graph>\n</gexf>\n")
