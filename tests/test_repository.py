"""What the repository itself holds: nothing big slips in (a 10 MB wheel once made 85 % of the tracked
bytes), so a clone stays quick and every tracked file is something a reader can review."""

from __future__ import annotations

import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LARGEST_TRACKED_FILE = 1_000_000  # bytes


def test_no_tracked_file_is_over_1_mb():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    sizes = {name: (PROJECT_ROOT / name).stat().st_size
             for name in tracked.decode().split("\0") if name and (PROJECT_ROOT / name).is_file()}
    assert sizes, "git ls-files listed nothing: the test must run inside the repository"
    assert {name: size for name, size in sizes.items() if size > LARGEST_TRACKED_FILE} == {}
