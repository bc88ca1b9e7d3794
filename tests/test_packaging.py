"""The wheel carries templates, the sample model and texts, and the demo runs from it anywhere.

The wheel and the demo run from it are session fixtures (conftest.py): the browser tests open
that same demo report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import WheelDemo

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_templates_model_and_texts(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "reportgen/templates/base.html.j2",
        "reportgen/templates/report.html.j2",
        "reportgen/templates/report.js",
        "reportgen/templates/report.css",
        "reportgen/samples/model/config.json",
        "reportgen/samples/model/model.safetensors",
        "reportgen/samples/texts.txt",
        "reportgen/cli.py",
    ):
        assert required in names, required
    # The training data (samples/data) belongs in the source distribution only.
    assert not [n for n in names if "samples/data" in n or "keico" in n.lower()], "the wheel bundles training data"


def test_sdist_carries_the_training_data_with_its_credit(tmp_path: Path) -> None:
    import tarfile

    from hatchling.builders.sdist import SdistBuilder

    [built] = list(SdistBuilder(str(REPO)).build(directory=str(tmp_path), versions=["standard"]))
    with tarfile.open(built) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for required in (
        "samples/data/keico/keico_corpus.csv",
        "samples/data/keico/README.md",
        "samples/data/aozora/README.md",
        "samples/data/aozora/kokoro.txt",
        "samples/build_sample_model.py",
    ):
        assert required in names, required
    assert len([n for n in names if n.startswith("samples/data/aozora/") and n.endswith(".txt")]) == 13


def test_demo_runs_from_the_installed_wheel_in_any_folder(wheel_demo: WheelDemo) -> None:
    # The run itself: see the wheel_demo fixture (conftest.py).
    result, site, work = wheel_demo.result, wheel_demo.site, wheel_demo.work
    assert result.returncode == 0, result.stderr
    reports = wheel_demo.reports
    assert len(reports) == 1 and str(reports[0].relative_to(work)) in result.stdout
    html = reports[0].read_text(encoding="utf-8")
    # The demo uses the model and texts inside the package...
    where = subprocess.run(
        [sys.executable, "-c", "from reportgen.resources import sample_model_dir, sample_texts; print(sample_model_dir()); print(sample_texts())"],
        cwd=work, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=120,
    )
    assert where.stdout.split() == [str(site / "reportgen" / "samples" / "model"), str(site / "reportgen" / "samples" / "texts.txt")]
    # ...and names them by file name: no absolute folder of the run (the site, the working
    # folder) anywhere in a report meant to be attached to tickets, compressed blocks included
    # (issue 10, sharing hygiene).
    from pagedata import everything, texts_in

    whole = everything(html)
    assert str(site) not in whole and str(work) not in whole
    assert "<code>model</code>" in html and "texts.txt:1" in whole
    assert any("munaitaカード" in text for text in texts_in(html))
