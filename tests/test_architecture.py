"""The stage boundaries the design promises: torch stops at extraction and the methods."""

from __future__ import annotations

import subprocess
import sys


def test_report_model_charts_and_export_never_import_torch() -> None:
    code = (
        "import sys, reportgen.report, reportgen.charts, reportgen.export, reportgen.visible; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
