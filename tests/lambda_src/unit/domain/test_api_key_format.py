"""The key format (issue 20): prefixed, 256 random bits, a checksum a scanner can check offline."""

from __future__ import annotations

import re

import pytest

from tollgate.domain.api_key_format import key_hash, key_hint, key_pattern, new_key, well_formed


def test_a_key_has_its_prefix_mode_random_part_and_checksum_and_matches_the_scanner_pattern():
    key = new_key("tgk", "live")

    assert key.startswith("tgk_live_") and len(key) == len("tgk_live_") + 43 + 6
    assert re.search(key_pattern("tgk"), f"config: API_KEY={key} # oops").group(0) == key
    assert well_formed(key, "tgk") and key_hint(key) == key[-4:]
    assert len({new_key("tgk", "test") for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # the checksum
        lambda key: key[:12] + ("x" if key[12] != "x" else "y") + key[13:],  # one random character
        lambda key: key.replace("tgk_live_", "tgk_test_"),  # the mode
        lambda key: key[:-2],  # cut short
        lambda key: key + "0",
    ],
)
def test_a_mistyped_or_forged_key_fails_the_checksum_without_any_lookup(tamper):
    key = new_key("tgk", "live")
    assert not well_formed(tamper(key), "tgk")


def test_only_the_hash_and_the_hint_are_kept_and_neither_gives_the_key_back():
    key = new_key("acme", "test")
    assert key_hash(key) == key_hash(key) and len(key_hash(key)) == 64 and key not in key_hash(key)
    assert not well_formed(key, "tgk")  # another deployment's prefix


@pytest.mark.parametrize("prefix", ["", "T", "tgk_live", "1abc", "x" * 17])
def test_a_prefix_that_would_break_the_format_is_refused(prefix):
    with pytest.raises(ValueError, match="key prefix"):
        new_key(prefix, "live")
