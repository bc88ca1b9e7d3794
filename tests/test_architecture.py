"""The stage boundaries the design promises: torch stops at extraction and the methods."""

from __future__ import annotations

import subprocess
import sys

TORCH_FREE = (
    "reportgen.types",
    "reportgen.errors",
    "reportgen.inputs",
    "reportgen.agreement",
    "reportgen.report",
    "reportgen.charts",
    "reportgen.theme",
    "reportgen.page",
    "reportgen.render",
    "reportgen.export",
    "reportgen.visible",
    "reportgen.data",
    "reportgen.words",
    "reportgen.stats",
    "reportgen.progress",
    "reportgen.ray_engine",
    "reportgen.method_infos",
    "reportgen.model_source",
    "reportgen.pipeline",
    "reportgen.cli",
)


def test_boundary_types_report_model_page_and_export_never_import_torch() -> None:
    code = (
        f"import sys, {', '.join(TORCH_FREE)}; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_torch_free_check_would_see_torch() -> None:
    # The same probe on a module that does import torch: proves the test above can fail.
    code = "import sys, reportgen.extraction; print(any(m == 'torch' for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
