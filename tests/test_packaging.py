"""The wheel carries everything siyu reads at run time: a brand installing siyu from a wheel
(not this editable checkout) gets the console's templates, styles, scripts and vendored
ECharts, the migrations, the lexicon, the evaluation sets and the shipped YAML."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "siyu"


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("siyu-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert len(want) > 250
    assert "siyu/web/static/vendor/echarts/echarts.min.js" in want
    assert sorted(want - names) == []
