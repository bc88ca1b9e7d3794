"""Reading a report's page data back in tests: the JSON block, its compressed per-text blocks.

``from pagedata import texts_in`` (``tests/`` is on ``sys.path``). User text no longer appears
in the HTML as markup or plain JSON: it travels in zlib blocks that the page inflates.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any


def payload(html: str) -> dict[str, Any]:
    """The page data as :mod:`reportgen.page` built it: the JSON block, with ``blocks`` read back
    from the per-text elements (``#detail-N``, ``#view-N``, ``#attention-N``) the page carries
    them in."""
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, flags=re.DOTALL)
    assert data is not None, "the report has no page data"
    out = json.loads(data.group(1))
    assert "blocks" not in out, "the per-text blocks travel in elements of their own, not in the JSON"
    out["blocks"] = blocks(html)
    return out


def blocks(html: str) -> list[list[str | None]]:
    """Per text (input order): [detail block, view block, attention block], as the page's
    elements hold them."""
    found = re.findall(r'<div id="(detail|view|attention)-(\d+)">([A-Za-z0-9+/=]*)</div>', html)
    n = len(found) // 3
    # Each text's detail and view elements (input order), then every text's attention element.
    assert [(kind, int(i)) for kind, i, _ in found] == [(k, i) for i in range(n) for k in ("detail", "view")] + [("attention", i) for i in range(n)]
    return [[found[2 * i][2] or None, found[2 * i + 1][2] or None, found[2 * n + i][2] or None] for i in range(n)]


def inflate(block: str) -> bytes:
    return zlib.decompress(base64.b64decode(block))


def detail(data: dict[str, Any], t: int) -> dict[str, Any]:
    """Text ``t``'s detail block (None when the size budget kept only its overview row)."""
    block = data["blocks"][t][0]
    return json.loads(inflate(block)) if block is not None else None


def texts_in(html: str) -> list[str]:
    """Every text as the overview holds it (input order; invisible characters as stand-ins)."""
    return json.loads(inflate(payload(html)["overview"]["texts"]))


def everything(html: str) -> str:
    """The page and every compressed block in its data, inflated: what a reader of the file could
    recover (a search for private text must look in the blocks too)."""
    parts = [html]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) > 8:
            try:
                parts.append(inflate(value).decode("utf-8", errors="replace"))
            except Exception:  # noqa: BLE001 - not a compressed block
                pass

    walk(payload(html))
    return "\n".join(parts)
