"""The documentation site builds in strict mode: a broken link, a missing page or module, or a
docstring the API reference cannot render fails the build, and so this test."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_docs_build_strictly(tmp_path):
    pytest.importorskip("mkdocstrings")  # the docs extra; CI installs it
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(site)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    reference = (site / "api" / "data" / "index.html").read_text()
    assert "TrajectoryPairs" in reference and "WellTrajectories" in reference
    assert (site / "notebooks" / "01_quickstart" / "index.html").is_file()
    assert "jaxsciml.nnx" in (site / "api" / "nnx" / "index.html").read_text()
