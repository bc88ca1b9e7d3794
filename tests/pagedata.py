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
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, flags=re.DOTALL)
    assert data is not None, "the report has no page data"
    return json.loads(data.group(1))


def inflate(block: str) -> bytes:
    return zlib.decompress(base64.b64decode(block))


def detail(data: dict[str, Any], t: int) -> dict[str, Any]:
    """Text ``t``'s detail block (None when the size budget kept only its overview row)."""
    block = data["blocks"][t][0]
    return json.loads(inflate(block)) if block is not None else None


def texts_in(html: str) -> list[str]:
    """Every text as the overview holds it (input order; invisible characters as stand-ins)."""
    return json.loads(inflate(payload(html)["overview"]["texts"]))


def every_byte(html: bytes) -> bytes:
    """The page's bytes followed by every compressed block inflated: what a search of the
    file for private text must cover (user text travels compressed)."""
    data = payload(html.decode("utf-8"))
    parts = [html, inflate(data["overview"]["texts"])]
    parts += [inflate(b) for pair in data["blocks"] for b in pair[:1] if b is not None]
    return b"\n".join(parts)
