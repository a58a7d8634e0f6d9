"""The key format the security page gives secret scanners is the one the code issues and checks."""

from __future__ import annotations

from pathlib import Path

from tollgate import contract
from tollgate.domain import api_key_format

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_security_page_gives_the_default_prefixes_key_pattern():
    pattern = api_key_format.key_pattern(contract.DEFAULT_KEY_PREFIX)
    assert f"```\n{pattern}\n```" in SECURITY.read_text()
