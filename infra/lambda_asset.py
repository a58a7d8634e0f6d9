"""How the Lambda code asset is built, without Docker: the locked wheels for the Lambda's platform,
minus what never runs, plus the `tollgate` package, compiled to bytecode that stays valid.

Plain Python, no CDK import: infra/functions.py bundles with `build_asset`, `make lock` writes the
lock with `write_lock`, `make synth` checks `runtime_python` first, and bench/ and the asset tests
build the very same asset.

- The lock (lambda_src/requirements.txt) pins the whole closure of lambda_src/requirements.in with
  hashes, resolved for the runtime's Python and platform by uv and constrained by the dev lock
  (requirements.txt), so the asset bundles exactly the versions the tests import.
- The CDK CLI zips assets with a fixed file date (aws-cdk 2.1148 `writeZipFile`: every entry gets
  `mtime: epoch()`, 1980-01-01), which makes timestamp-based `.pyc` files stale in Lambda: the
  runtime would compile every module again on each cold start (/var/task is read-only, so it
  never keeps the result). Bytecode compiled with `--invalidation-mode unchecked-hash` is used
  whatever the file dates (PEP 552), but only by the Python minor version that wrote it (its magic
  number), so an interpreter of the runtime's version compiles it. AWS's Python packaging guide
  advises against shipping `__pycache__` built on another OS or architecture; CPython bytecode
  depends on neither, only on that version.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
PACKAGE = "tollgate"
TOP_LEVEL = "requirements.in"  # in the source folder: what the Lambda code imports
LOCK = "requirements.txt"  # in the source folder: the closure with hashes, written by `make lock`
DEV_LOCK = ROOT / "requirements.txt"
PYTHON_VERSION = "3.12"  # the functions' runtime (infra/functions.py RUNTIME; a test keeps them equal)
ARCHITECTURE = "arm64"  # the functions' architecture (infra/functions.py ARCHITECTURE, same test)
_PLATFORMS = {  # architecture -> (pip --platform, uv --python-platform)
    "arm64": ("manylinux2014_aarch64", "aarch64-manylinux2014"),
    "x86_64": ("manylinux2014_x86_64", "x86_64-manylinux2014"),
}
PIP_PLATFORM, UV_PLATFORM = _PLATFORMS[ARCHITECTURE]
PYTHON_OVERRIDE = "TOLLGATE_LAMBDA_PYTHON"

# Never bundled: the Lambda runtime ships boto3 with its own botocore and s3transfer.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# Declared by a bundled package, so the resolver needs them, but never imported on Tollgate's paths
# (tollgate.adapters.moesif_analytics uses moesifapi's controllers, models, http and configuration).
LEFT_OUT_PACKAGES = {
    "apscheduler": "only moesifapi.workers (the event batching of Moesif's web middlewares) imports it, "
    "and no moesifapi module imports workers",
    "tzlocal": "only apscheduler needs it",
    "readerwriterlock": "only moesifapi.config_manager imports it, and no moesifapi module imports config_manager",
}
# Folders (relative to the asset) deleted after installation: files no code path of Tollgate reads.
LEFT_OUT_PATHS = {
    "stripe/params": "TypedDicts for type checkers: stripe imports them only under TYPE_CHECKING "
    "(or on `stripe.params` attribute access, which Tollgate never does)",
    "tests": "moesifapi's own test suite, which its wheel installs as a top-level package",
    "bin": "console scripts pip writes with --target (normalizer, jp.py, moesifapi); Lambda runs none",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui": "Swagger UI's JavaScript and CSS, "
    "served only by enable_swagger(), which Tollgate never calls",
}

LOCK_HEADER = f"""\
# The Lambda asset's whole dependency closure, pinned with hashes. infra/lambda_asset.py bundles
# exactly this file (pip install --require-hashes --no-deps). Written by `make lock` from
# lambda_src/{TOP_LEVEL} for Python {PYTHON_VERSION} on {PIP_PLATFORM} (the functions' runtime and
# architecture), constrained by requirements.txt so that every package here is the version the
# tests import. Do not edit by hand.
#
# boto3, botocore and s3transfer are not bundled: the runtime's are used.
# urllib3, jmespath, python-dateutil and six ARE bundled although the runtime has its own copies:
# requests (stripe, moesifapi) needs urllib3, Powertools needs jmespath, moesifapi needs
# python-dateutil, which needs six. Lambda puts /var/task first on sys.path, so the runtime's
# botocore imports these copies too. Each is the version the tests run with botocore, inside
# botocore's declared ranges (jmespath <2, python-dateutil <3, urllib3 <3 and !=2.2.0), which
# tests/infra/test_lambda_asset.py checks. Bundling them keeps what the functions import tested;
# bundling botocore as well would add ~25 MB for an SDK the runtime already has.
#
# Left out although a bundled package declares them:
{
    "".join(
        textwrap.fill(f"{name}: {reason}", 98, initial_indent="#   ", subsequent_indent="#     ") + chr(10)
        for name, reason in LEFT_OUT_PACKAGES.items()
    )
}"""


class BundlingError(RuntimeError):
    """The asset could not be built; the message says which step failed and what to do."""


def runtime_python() -> str:
    """An interpreter of the runtime's exact minor version, to compile the asset's bytecode:
    $TOLLGATE_LAMBDA_PYTHON if set, else `python3.12` on PATH, else pyenv's newest 3.12.x."""
    override = os.environ.get(PYTHON_OVERRIDE)
    if override:
        candidates = [override]
    else:
        pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
        pyenv = glob.glob(str(pyenv_root / "versions" / f"{PYTHON_VERSION}.*" / "bin" / f"python{PYTHON_VERSION}"))
        candidates = [shutil.which(f"python{PYTHON_VERSION}") or "", *sorted(pyenv, key=_version_key, reverse=True)]
    for candidate in filter(None, candidates):
        if _reports_version(candidate):
            return candidate
    if override:
        raise BundlingError(
            f"{PYTHON_OVERRIDE}={override} is not a working Python {PYTHON_VERSION} interpreter: "
            f"point it at one (the Lambda runtime's version compiles the asset's bytecode)."
        )
    raise BundlingError(
        f"No Python {PYTHON_VERSION} found (the Lambda runtime's version compiles the asset's "
        f"bytecode): install it (e.g. `pyenv install {PYTHON_VERSION}`) or set "
        f"{PYTHON_OVERRIDE}=/path/to/python{PYTHON_VERSION}."
    )


def _version_key(path: str) -> tuple[int, ...]:
    release = Path(path).parent.parent.name  # .../versions/3.12.1/bin/python3.12
    return tuple(int(part) for part in re.findall(r"\d+", release))


def _reports_version(executable: str) -> bool:
    """True when `executable` runs and is CPython of the runtime's minor version (a pyenv shim
    for a version that is not selected exists on PATH but fails)."""
    probe = "import platform, sys; print(platform.python_implementation(), '%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run([executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.split() == ["CPython", PYTHON_VERSION]


def build_asset(output_dir: Path, *, source: Path = LAMBDA_SRC, python: str | None = None) -> None:
    """Install the lock's wheels for the runtime's platform into `output_dir`, delete what never
    runs, copy the `tollgate` package and compile everything for the runtime's Python."""
    python = python or runtime_python()
    _run("Installing the locked Lambda dependencies (needs PyPI or your pip index)", [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(source / LOCK), "--require-hashes", "--no-deps",
        "--target", str(output_dir),
        "--platform", PIP_PLATFORM, "--only-binary=:all:",
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--no-compile", "--quiet", "--disable-pip-version-check",
    ])  # fmt: skip
    for relative in LEFT_OUT_PATHS:
        if not (output_dir / relative).is_dir():
            raise BundlingError(f"{relative} is not in the asset any more: update LEFT_OUT_PATHS in {__name__}.")
        shutil.rmtree(output_dir / relative)
    shutil.copytree(
        source / PACKAGE,
        output_dir / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    compile_bytecode(python, output_dir)


def compile_bytecode(python: str, directory: Path) -> None:
    """Compile every module under `directory` with `python`, as bytecode Python uses without
    comparing it to the source's date (PEP 552 unchecked-hash)."""
    _run(f"Compiling the asset's bytecode with {python}", [
        python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory),
    ])  # fmt: skip


def _run(step: str, command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(f"{step} failed:\n{result.stdout}{result.stderr}")


def recipe_fingerprint() -> str:
    """Part of the asset's hash beside its sources: a change to how the asset is built (this
    module) must change the asset, or CDK would keep deploying the old bundle."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def write_lock(source: Path = LAMBDA_SRC) -> None:
    """Resolve lambda_src/requirements.in for the runtime's Python and platform, constrained by
    the dev lock, and write the closure with hashes (uv: `make lock` installs it in .venv)."""
    uv = Path(sys.executable).with_name("uv")
    excluded = [flag for name in (*RUNTIME_PROVIDED, *LEFT_OUT_PACKAGES) for flag in ("--no-emit-package", name)]
    result = subprocess.run([
        str(uv), "pip", "compile", str((source / TOP_LEVEL).relative_to(ROOT)),
        "--constraint", str(DEV_LOCK.relative_to(ROOT)),
        "--python-version", PYTHON_VERSION, "--python-platform", UV_PLATFORM,
        "--generate-hashes", "--no-header", "--quiet", *excluded,
    ], cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise BundlingError(f"Resolving lambda_src/{TOP_LEVEL} failed:\n{result.stderr}")
    body = re.sub(r"^# The following packages were excluded from the output:\n(# .*\n)*", "", result.stdout, flags=re.M)
    (source / LOCK).write_text(LOCK_HEADER + "\n" + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.lambda_asset", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lock", help="write lambda_src/requirements.txt from lambda_src/requirements.in")
    commands.add_parser(
        "python", help=f"print the Python {PYTHON_VERSION} that compiles the bytecode, or say what to install"
    )
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "lock":
            write_lock()
        else:
            print(runtime_python())
    except BundlingError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
