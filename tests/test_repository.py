"""What the repository itself holds: nothing big slips in (a 10 MB wheel once made 85 % of the tracked
bytes), so a clone stays quick and every tracked file is something a reader can review; and no Python
module, code or test, grows past what a reader takes in at once (the house rule says ~400 lines:
a module nearing it is split by what it is for, as tests/lambda_src/unit/domain/test_lifecycle_*.py were)."""

from __future__ import annotations

import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LARGEST_TRACKED_FILE = 1_000_000  # bytes
LONGEST_PYTHON_MODULE = 450  # lines: the house's ~400, with room for a module's last addition before its split


def tracked_files() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    files = [PROJECT_ROOT / name for name in tracked.decode().split("\0") if name and (PROJECT_ROOT / name).is_file()]
    assert files, "git ls-files listed nothing: the test must run inside the repository"
    return files


def test_no_tracked_file_is_over_1_mb():
    sizes = {path: path.stat().st_size for path in tracked_files()}
    assert {str(path): size for path, size in sizes.items() if size > LARGEST_TRACKED_FILE} == {}


def test_no_python_module_is_over_450_lines():
    lengths = {
        path: len(path.read_text(encoding="utf-8").splitlines()) for path in tracked_files() if path.suffix == ".py"
    }
    assert lengths, "no tracked Python module: the test must run inside the repository"
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): lines for path, lines in lengths.items() if lines > LONGEST_PYTHON_MODULE
    }
    assert too_long == {}, f"split these by what they test or do, names that say so: {too_long}"
