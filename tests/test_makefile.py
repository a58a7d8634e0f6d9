"""The Makefile's installs, as a newcomer meets them: the first run says in one line per step what it
installs, that it happens once, and which log file holds the installer's own output (issue 19: the
first `make dev` printed 326 lines before its banner); a failed install shows the log's last lines;
a later run installs nothing and says nothing.

`make -n` prints the recipes make would run without running them, in a copy of the Makefile and
its lock files. The real runs install one small pinned package and an empty npm lock in a copy, so
they take seconds."""

from __future__ import annotations

import json
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


def test_the_first_run_says_what_it_installs_that_it_happens_once_and_where_the_details_go(fresh_clone: Path) -> None:
    plan = dry_run(fresh_clone, "deps")

    assert "Installing the pinned Python packages into .venv" in plan and "only on the first run" in plan
    assert "tail -f .tollgate/logs/install-python.log" in plan
    assert (
        "Installing the pinned AWS CDK CLI into node_modules" in plan and ".tollgate/logs/install-cdk-cli.log" in plan
    )
    pip = next(line for line in plan.splitlines() if " -m pip install " in line)
    assert " -q" not in pip.split() and ">.tollgate/logs/install-python.log 2>&1" in pip  # all of it, in the log
    npm = next(line for line in plan.splitlines() if "npm ci --no-audit" in line)
    assert "--silent" not in npm and ">.tollgate/logs/install-cdk-cli.log 2>&1" in npm
    assert "later runs skip this step" in plan


@pytest.fixture
def small_clone(fresh_clone: Path) -> Path:
    """A copy whose lock files pin one small Python package and no npm package: a real first run in seconds."""
    pinned = next(
        line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if line.startswith("iniconfig==")
    )
    (fresh_clone / "requirements.txt").write_text(pinned + "\n")
    (fresh_clone / "package.json").write_text(json.dumps({"name": "small-clone", "version": "1.0.0", "private": True}))
    (fresh_clone / "package-lock.json").write_text(
        json.dumps(
            {
                "name": "small-clone",
                "version": "1.0.0",
                "lockfileVersion": 3,
                "requires": True,
                "packages": {"": {"name": "small-clone", "version": "1.0.0"}},
            }
        )
    )
    return fresh_clone


def make(directory: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=directory, capture_output=True, text=True, timeout=300
    )


def test_a_real_first_run_prints_a_line_per_step_and_keeps_the_details_in_the_logs_it_names(small_clone: Path) -> None:
    result = make(small_clone, "deps")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("==> ") for line in lines), result.stdout
    logs = small_clone / ".tollgate" / "logs"
    assert "Successfully installed iniconfig" in (logs / "install-python.log").read_text()
    assert (logs / "install-cdk-cli.log").exists()
    assert "==>" not in make(small_clone, "deps").stdout  # a later run installs nothing and says nothing


def test_a_failed_install_shows_the_end_of_its_log_and_names_it(small_clone: Path) -> None:
    (small_clone / "requirements.txt").write_text("not a requirement!!\n")

    result = make(small_clone, "deps")

    assert result.returncode != 0
    assert "That failed (exit 1). The last lines of .tollgate/logs/install-python.log:" in result.stderr
    assert "Invalid requirement: 'not a requirement!!'" in result.stderr  # pip's own error, not hidden
    assert not (small_clone / ".stamps" / "venv").exists()  # the next run tries again


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
    installed = time.time()
    for stamp in ("venv", "node"):
        (stamps / stamp).touch()
        os.utime(stamps / stamp, (installed, installed))
    os.utime(fresh_clone / "requirements.txt", (installed + 5, installed + 5))  # edited after the install

    plan = dry_run(fresh_clone, "deps")

    assert "Installing the pinned Python packages" in plan and "npm ci" not in plan


def test_the_browser_install_says_what_it_installs(fresh_clone: Path) -> None:
    plan = dry_run(fresh_clone, "browser")

    assert "Installing Debian's Chromium and fonts-liberation" in plan and "first run only" in plan
    install = plan[plan.index("apt-get update") :]
    assert ">/dev/null" not in install and "-qq" not in install  # apt's own progress shows


def test_make_test_runs_the_lint_the_format_check_and_the_type_check_before_the_suite(fresh_clone: Path) -> None:
    """CI runs `make test`, so a lint, format or type finding fails CI before pytest starts (issue 19.5);
    mypy takes its files and strictness from pyproject.toml, so the command names none."""
    (fresh_clone / ".stamps").mkdir()
    for stamp in ("venv", "node"):
        (fresh_clone / ".stamps" / stamp).touch()
    plan = dry_run(fresh_clone, "test").splitlines()
    commands = [line for line in plan if "/ruff " in line or "/mypy" in line or " -m pytest" in line]
    assert commands == [
        ".venv/bin/ruff check --quiet .",
        ".venv/bin/ruff format --check --quiet .",
        ".venv/bin/mypy",
        ".venv/bin/python -m pytest",
    ]
