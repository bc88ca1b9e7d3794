"""The on-disk cache of vl-convert's output (reportgen.derived): reused, keyed, and never in the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportgen import derived
from reportgen.page import vega_spec


def test_a_result_is_stored_once_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def make() -> str:
        calls.append(1)
        return "日本語 </script> payload"

    assert derived.cached("kind", "key", make) == "日本語 </script> payload"
    assert derived.cached("kind", "key", make) == "日本語 </script> payload"
    assert len(calls) == 1
    assert len(list((tmp_path / "cache").iterdir())) == 1
    # Another key or kind is another entry.
    assert derived.cached("kind", "other", lambda: "b") == "b"
    assert derived.cached("other", "key", lambda: "c") == "c"
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_the_cache_is_keyed_by_vl_convert_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    assert derived.cached("kind", "key", lambda: "old") == "old"
    monkeypatch.setattr(derived, "_vl_convert_version", lambda: "99.0")
    assert derived.cached("kind", "key", lambda: "new") == "new"


def test_an_unusable_or_disabled_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(blocker / "cache"))
    assert derived.cached("kind", "key", lambda: "x") == "x"
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", "")
    assert derived.cache_dir() is None
    assert derived.cached("kind", "key", lambda: "y") == "y"
    assert list(tmp_path.iterdir()) == [blocker]


def test_a_compiled_spec_from_the_cache_equals_a_fresh_compilation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vl_convert

    from reportgen import page

    spec = {"mark": "bar", "data": {"name": "rows"}, "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    fresh = vl_convert.vegalite_to_vega(spec)
    fresh.pop("$schema")
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    page._compiled.cache_clear()
    assert vega_spec(spec) == fresh
    [stored] = tmp_path.iterdir()
    assert json.loads(stored.read_text(encoding="utf-8")) == fresh
    page._compiled.cache_clear()
    assert vega_spec(spec) == fresh  # read back from the file


def test_a_chart_template_from_the_cache_needs_no_altair(tmp_path: Path) -> None:
    """A second process finds every template on disk: it equals the one Altair built and the
    process never imports Altair (the start-up this cache saves)."""
    import os
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from reportgen import charts\n"
        "specs = [charts.methods_spec(), charts.agreement_spec(['a', 'b']), charts.predictions_spec('y', True)]\n"
        "print(json.dumps({'altair': 'altair' in sys.modules, 'specs': specs}))\n"
    )
    env = {**os.environ, "REPORTGEN_CACHE_DIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[1]
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True, check=True).stdout)
        for _ in range(2)
    ]
    assert runs[0]["altair"] and not runs[1]["altair"]
    assert runs[1]["specs"] == runs[0]["specs"]
    assert len(list(tmp_path.glob("chart-spec-*.txt"))) == 3
