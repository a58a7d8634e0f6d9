"""The Makefile's installs, as a newcomer meets them: the first run says what it installs and that
it happens once, with the installer's own progress; a later run installs nothing and says nothing.

`make -n` prints the recipes make would run without running them, in a copy of the Makefile and
its lock files, so no real install happens here."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILES = ("requirements.txt", "pyproject.toml", "package.json", "package-lock.json")


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    for name in ("Makefile", *LOCK_FILES):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def dry_run(directory: Path, *targets: str) -> str:
    result = subprocess.run(["make", "-n", *targets], cwd=directory, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_first_run_says_what_it_installs_that_it_happens_once_and_shows_progress(fresh_clone: Path) -> None:
    plan = dry_run(fresh_clone, "deps")

    assert "Installing the pinned Python packages into .venv" in plan and "only on the first run" in plan
    assert "Installing the pinned AWS CDK CLI into node_modules" in plan
    pip = next(line for line in plan.splitlines() if " -m pip install " in line)
    assert " -q" not in pip.split()  # pip's own progress shows
    npm = next(line for line in plan.splitlines() if line.startswith("npm ci"))
    assert "--loglevel=error" not in npm and "--silent" not in npm
    assert "later runs skip this step" in plan


def test_a_later_run_installs_nothing_and_says_nothing(fresh_clone: Path) -> None:
    stamps = fresh_clone / ".stamps"
    stamps.mkdir()
    later = time.time() + 5
    for stamp in ("venv", "node"):
        (stamps / stamp).touch()
        os.utime(stamps / stamp, (later, later))

    plan = dry_run(fresh_clone, "deps")

    assert "Installing" not in plan and "pip install" not in plan and "npm ci" not in plan


def test_a_changed_lock_file_reinstalls_only_what_it_pins(fresh_clone: Path) -> None:
    stamps = fresh_clone / ".stamps"
    stamps.mkdir()
    for stamp in ("venv", "node"):
        (stamps / stamp).touch()
    time.sleep(0.01)
    os.utime(fresh_clone / "requirements.txt")

    plan = dry_run(fresh_clone, "deps")

    assert "Installing the pinned Python packages" in plan and "npm ci" not in plan


def test_the_browser_install_says_what_it_installs(fresh_clone: Path) -> None:
    plan = dry_run(fresh_clone, "browser")

    assert "Installing Debian's Chromium and fonts-liberation" in plan and "first run only" in plan
    install = plan[plan.index("apt-get update"):]
    assert ">/dev/null" not in install and "-qq" not in install  # apt's own progress shows
