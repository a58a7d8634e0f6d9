"""The shipped Lambda is the tested Lambda (issue 9, part 2).

The asset is built once per session the way `cdk synth` builds it (PipLocalBundling, so it needs
PyPI or your pip index, as synth does; pip's wheel cache makes a rebuild take a few seconds), then:
the versions it bundles are the ones the tests import, what it leaves out is never needed (the
Lambda tests pass again with the asset first on sys.path), and its bytecode is valid for the
runtime's Python whatever the file dates.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra import lambda_asset
from infra.functions import PipLocalBundling
from tollgate import contract

# Tests of the Lambda code run a second time with the built asset first on sys.path (ONE place: when
# those tests move, move this list with them): the handlers that between them reach every bundled SDK
# end to end on the emulators through the wiring a cold start builds (stripe and moesifapi at sign-up,
# Powertools' idempotency and secrets, boto3's DynamoDB, API Gateway, S3, SQS and SES); every handler's
# import from the asset is the bytecode test below. The other tests would add time, not a package.
TESTS_RUN_AGAINST_THE_ASSET = (
    "tests/lambda_src/integration/handlers/test_register_handler.py",
    "tests/lambda_src/integration/handlers/test_usage_reporter_handler.py",
    "tests/lambda_src/integration/handlers/test_account_handlers.py",
)

_PYTEST_WITH_THE_ASSET_FIRST = """
import importlib.abc, sys
from pathlib import Path
import pytest

asset, left_out, pytest_arguments = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3:]
bundled = {path.name.removesuffix(".py") for path in Path(asset).iterdir()
           if path.suffix != ".dist-info" and path.name != "__pycache__"}


class LeftOut(importlib.abc.MetaPathFinder):
    \"\"\"The venv still has what the asset leaves out: make importing it fail as in Lambda.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in left_out:
            raise ModuleNotFoundError(f"{name} is left out of the Lambda asset", name=name)


sys.meta_path.insert(0, LeftOut())
status = pytest.main(pytest_arguments)
from_the_asset = {name: getattr(module, "__file__", None) or asset for name, module in list(sys.modules.items())
                  if name.partition(".")[0] in bundled}
outside = sorted(name for name, file in from_the_asset.items() if not file.startswith(asset))
print(f"asset modules imported: {len(from_the_asset)}; from elsewhere: {outside}")
sys.exit(status or (3 if outside else 0))
"""

_BYTECODE_PROBLEMS = """
import importlib.util, pathlib, sys

problems = []
for source in pathlib.Path(sys.argv[1]).rglob("*.py"):
    cached = pathlib.Path(importlib.util.cache_from_source(source))
    if not cached.is_file():
        problems.append(f"{source}: no {cached.name}")
        continue
    data = cached.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    if data[:4] != importlib.util.MAGIC_NUMBER or flags != 0b01:  # PEP 552: hash-based, unchecked
        problems.append(f"{cached}: magic {data[:4]!r}, flags {flags:#b}")
    elif data[8:16] != importlib.util.source_hash(source.read_bytes()):
        problems.append(f"{cached}: compiled from another source")
for cached in pathlib.Path(sys.argv[1]).rglob("*.pyc"):
    if cached.parent.name != "__pycache__" or ".cpython-%d%d." % sys.version_info[:2] not in cached.name:
        problems.append(f"{cached}: not bytecode of this Python")
print("\\n".join(problems))
"""


@pytest.fixture(scope="module")
def asset(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("lambda-asset")
    assert PipLocalBundling(lambda_asset.LAMBDA_SRC).try_bundle(str(directory), None) is True
    return directory


@pytest.fixture(scope="module")
def bundled(asset) -> dict[str, str]:
    """name -> version of every distribution installed in the asset."""
    distributions = importlib.metadata.distributions(path=[str(asset)])
    return {canonicalize_name(distribution.metadata["Name"]): distribution.version for distribution in distributions}


def _runtime_requirements(distribution: str) -> list[Requirement]:
    """What `distribution` (as installed in the test venv) requires on the Lambda's Python."""
    runtime = {
        **{name: str(value) for name, value in default_environment().items()},
        "python_version": lambda_asset.PYTHON_VERSION,
        "extra": "",
    }
    requirements = [Requirement(line) for line in importlib.metadata.requires(distribution) or []]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(runtime)]


def test_the_asset_bundles_every_locked_package_at_the_version_the_tests_import(asset, bundled):
    locked = {
        canonicalize_name(Requirement(line.split(" ")[0]).name)
        for line in (lambda_asset.LAMBDA_SRC / lambda_asset.LOCK).read_text().splitlines()
        if line[:1].isalpha()
    }

    assert set(bundled) == locked
    assert bundled == {name: importlib.metadata.version(name) for name in bundled}
    assert (asset / lambda_asset.PACKAGE / "contract" / "routes.py").is_file()


def test_boto3_comes_from_the_runtime_and_botocores_bundled_dependencies_fit_its_ranges(bundled):
    """/var/task shadows the runtime's copies, so the runtime's botocore imports ours."""
    assert not bundled.keys() & set(lambda_asset.RUNTIME_PROVIDED)
    shared = [r for r in _runtime_requirements("botocore") if canonicalize_name(r.name) in bundled]

    assert {canonicalize_name(r.name) for r in shared} == {"jmespath", "python-dateutil", "urllib3"}
    for requirement in shared:
        assert requirement.specifier.contains(bundled[canonicalize_name(requirement.name)]), requirement


def test_what_never_runs_is_left_out(asset, bundled):
    assert not bundled.keys() & {*lambda_asset.LEFT_OUT_PACKAGES, "pydantic", "pydantic-core"}
    for relative in lambda_asset.LEFT_OUT_PATHS:
        assert not (asset / relative).exists(), relative
    assert (asset / "stripe" / "__init__.py").is_file()


def test_the_lambda_tests_pass_with_the_built_asset_first_on_sys_path(asset):
    """stripe, moesifapi, Powertools, tollgate and the rest come from the asset (the driver fails
    otherwise), and importing a left-out package fails as it would in Lambda."""
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": str(asset), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _PYTEST_WITH_THE_ASSET_FIRST, str(asset), ",".join(lambda_asset.LEFT_OUT_PACKAGES),
         "-q", "-p", "no:cacheprovider", *TESTS_RUN_AGAINST_THE_ASSET],
        cwd=root, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "from elsewhere: []" in result.stdout


def test_every_module_has_bytecode_for_the_runtime_that_no_file_date_invalidates(asset):
    result = subprocess.run([lambda_asset.runtime_python(), "-S", "-c", _BYTECODE_PROBLEMS, str(asset)],
                            capture_output=True, text=True, check=True)  # fmt: skip

    assert result.stdout.strip() == ""


def test_each_handler_imports_on_the_runtimes_python_from_bytecode_dated_as_the_cdk_zip_dates_it(asset, tmp_path):
    """The CDK CLI zips every file with the date 1980-01-01 (aws-cdk writeZipFile: `mtime: epoch()`).
    Python 3.12 must still use the asset's bytecode (`-v` says "<pyc> matches <py>"), never compile
    a module of the asset again, and need nothing but the asset, the runtime's boto3 and the
    standard library (`-S`)."""
    from bench.cold_start import install_runtime_sdk
    from bench.measure import BENCH_ENVIRONMENT

    python = lambda_asset.runtime_python()
    install_runtime_sdk(tmp_path, python)
    zip_date = datetime(1980, 1, 1).timestamp()
    for path in asset.rglob("*"):
        os.utime(path, (zip_date, zip_date))
    handlers = (contract.HANDLER_REGISTER, contract.HANDLER_CHECKOUT, contract.HANDLER_STRIPE_WEBHOOK,
                contract.HANDLER_SAMPLE_BACKEND, contract.HANDLER_ACCOUNT, contract.HANDLER_KEY_RETIREMENT)  # fmt: skip
    result = subprocess.run(
        [python, "-S", "-s", "-v", "-c", "import " + ", ".join(handler.rpartition(".")[0] for handler in handlers)],
        cwd=asset,
        env={**BENCH_ENVIRONMENT, "PYTHONPATH": f"{asset}{os.pathsep}{tmp_path}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    trace = result.stderr.splitlines()

    assert result.returncode == 0, result.stderr[-3000:]
    compiled_again = [line for line in trace if line.startswith(f"# code object from {asset}") and line.endswith(".py")]
    assert compiled_again == []
    assert len([line for line in trace if line.startswith(f"# {asset}") and " matches " in line]) > 100


def test_the_lock_pins_every_package_with_hashes_at_the_dev_locks_version():
    """Checked on the files alone, so a stale lock fails even where the asset cannot be built."""
    body = (lambda_asset.LAMBDA_SRC / lambda_asset.LOCK).read_text().split("\n\n", 1)[1]
    hashed = re.findall(r"^([a-z0-9.-]+)==(\S+) \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+", body, flags=re.M)
    dev = dict(line.split("==") for line in lambda_asset.DEV_LOCK.read_text().splitlines() if line[:1].isalpha())
    pins = dict(hashed)

    assert len(hashed) == sum(line[:1].isalpha() for line in body.splitlines())  # no pin without hashes
    top_level = (lambda_asset.LAMBDA_SRC / lambda_asset.TOP_LEVEL).read_text().splitlines()
    assert dict(line.split("==") for line in top_level if line[:1].isalpha()).items() <= pins.items()
    assert {"stripe", "moesifapi", "aws-lambda-powertools", "urllib3", "python-dateutil"} <= pins.keys()
    assert pins == {name: dev[name] for name in pins}


def test_the_lock_header_says_what_is_left_out_and_why():
    header = (lambda_asset.LAMBDA_SRC / lambda_asset.LOCK).read_text().split("\n\n")[0]

    assert header == lambda_asset.LOCK_HEADER.rstrip("\n")
    assert all(name in header for name in (*lambda_asset.RUNTIME_PROVIDED, *lambda_asset.LEFT_OUT_PACKAGES))
