"""Cold start as deployed: the register handler and the key authorizer imported from the built asset
by fresh processes of the runtime's Python, beside a stand-in for the runtime's own boto3.

The dev venv would flatter the figure: everything there is precompiled for its own Python, and
aiohttp (a test dependency) changes what stripe imports. So the asset is built exactly as `cdk
synth` builds it (infra.lambda_asset.build_asset), and the runtime's boto3 and botocore, the
versions of requirements.txt, are installed for the runtime's Python and platform into a folder
that stands in for the runtime's site-packages. Each process starts with only these two folders
and the standard library on its path (`-S`: no site-packages of the build machine), asset first,
as /var/task is first in Lambda, and never writes bytecode, as /var/task is read-only.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra import lambda_asset

_IMPORT_PROBE = """
import sys, time
started = time.perf_counter()
__import__(sys.argv[1])
print((time.perf_counter() - started) * 1000)
"""
# What the first sign-up of a process builds before its first network call: the wiring is lazy, so
# this work moved out of the import; it is timed apart so the import figure cannot hide it.
_FIRST_SIGN_UP_SETUP_PROBE = """
import sys, time
__import__(sys.argv[1])
started = time.perf_counter()
from tollgate import wiring
current = wiring.current()
current.registration, current.idempotency_store, current.stripe_secret, current.moesif_secret
import stripe, moesifapi.controllers.api_controller
print((time.perf_counter() - started) * 1000)
"""
# What the authorizer's first call builds before its one GetItem: the DynamoDB client (made lazily, on
# the first call, by tollgate.handlers.authorizer.KeysTable, with its own timeouts and retries).
_AUTHORIZER_FIRST_CALL_PROBE = """
import sys, time
module = __import__(sys.argv[1], fromlist=["handler"])
started = time.perf_counter()
module.handler._keys.client()
print((time.perf_counter() - started) * 1000)
"""
AUTHORIZER_MODULE = "tollgate.handlers.authorizer"


@dataclass(frozen=True)
class AssetSize:
    unzipped_bytes: int
    zipped_bytes: int
    files: int

    @classmethod
    def of(cls, directory: Path) -> AssetSize:
        """Sizes of `directory` as Lambda counts them: the files' bytes, and a deflated zip."""
        files = sorted(path for path in directory.rglob("*") if path.is_file())
        with tempfile.TemporaryFile() as archive:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
                for path in files:
                    zipped.write(path, path.relative_to(directory))
            zipped_bytes = archive.tell()
        return cls(sum(path.stat().st_size for path in files), zipped_bytes, len(files))


@dataclass(frozen=True)
class ColdStart:
    handler_ms: list[float]  # one fresh process each
    first_sign_up_setup_ms: list[float]  # the lazy wiring and the SDKs the first sign-up builds, one process each
    boto3_ms: list[float]  # `import boto3` alone, from the runtime stand-in: the floor no asset change moves
    authorizer_ms: list[float]  # the key authorizer's handler import, one process each
    authorizer_first_call_ms: list[float]  # its DynamoDB client, made on the first call
    asset: AssetSize
    python: str


def install_runtime_sdk(directory: Path, python: str) -> None:
    """boto3 and botocore at requirements.txt's versions (what the tests use), installed for the
    runtime's platform and compiled like the asset: a stand-in for the runtime's site-packages."""
    subprocess.run([
        sys.executable, "-m", "pip", "install", "--target", str(directory),
        "--platform", lambda_asset.PIP_PLATFORM, "--only-binary=:all:",
        "--python-version", lambda_asset.PYTHON_VERSION, "--implementation", "cp",
        "--no-compile", "--quiet", "--disable-pip-version-check",
        *(f"{name}=={importlib.metadata.version(name)}" for name in ("boto3", "botocore")),
    ], check=True, capture_output=True)  # fmt: skip
    lambda_asset.compile_bytecode(python, directory)


def import_ms(
    python: str, module: str, path: list[Path], environment: dict[str, str], probe: str = _IMPORT_PROBE
) -> float:
    """Milliseconds a fresh `python` takes to import `module` (or what `probe` times) with only
    `path` and the standard library importable."""
    env = {**environment, "PYTHONPATH": os.pathsep.join(map(str, path)), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([python, "-S", "-s", "-c", probe, module], cwd=path[0], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} from {path[0]} failed:\n{result.stderr}")
    return float(result.stdout)


def measure_cold_start(module: str, environment: dict[str, str], runs: int) -> ColdStart:
    """Build the asset and the runtime stand-in in a temporary folder and time `runs` imports."""
    python = lambda_asset.runtime_python()
    with tempfile.TemporaryDirectory(prefix="tollgate-cold-start-") as work:
        asset, runtime = Path(work, "asset"), Path(work, "runtime")
        lambda_asset.build_asset(asset, python=python)
        install_runtime_sdk(runtime, python)
        handler = [import_ms(python, module, [asset, runtime], environment) for _ in range(runs)]
        setup = [
            import_ms(python, module, [asset, runtime], environment, _FIRST_SIGN_UP_SETUP_PROBE) for _ in range(runs)
        ]
        boto3 = [import_ms(python, "boto3", [runtime], environment) for _ in range(runs)]
        authorizer = [import_ms(python, AUTHORIZER_MODULE, [asset, runtime], environment) for _ in range(runs)]
        first_call = [
            import_ms(python, AUTHORIZER_MODULE, [asset, runtime], environment, _AUTHORIZER_FIRST_CALL_PROBE)
            for _ in range(runs)
        ]
        return ColdStart(handler, setup, boto3, authorizer, first_call, AssetSize.of(asset), python)
