"""docs/settings.md is what infra/settings_doc.py writes from the settings' own definitions, and
every setting has a description there: a setting added without one fails here, naming it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra import settings_doc
from infra.plan_settings import PLAN_FIELD_EXPECTED, PLAN_FIELDS
from infra.settings import Settings, SettingsError, load_cdk_json_context

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def context() -> dict:
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


def test_the_committed_page_is_what_the_generator_writes(context: dict) -> None:
    committed = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == settings_doc.render(context), (
        "docs/settings.md is out of date: run python -m infra.settings_doc"
    )


def test_every_context_key_has_a_line_with_a_description(context: dict) -> None:
    lines = settings_doc.setting_lines(context)
    documented = [key for line in lines for key in line.keys]
    assert sorted(documented) == sorted(Settings.context_keys())
    assert all(line.doc and line.accepts and line.default for line in lines)


def test_every_plan_field_has_a_line_with_a_description() -> None:
    lines = settings_doc.plan_field_lines()
    assert [line.keys[0] for line in lines] == list(PLAN_FIELDS)
    assert all(line.doc for line in lines)
    assert [line.accepts for line in lines] == [PLAN_FIELD_EXPECTED[name] for name in PLAN_FIELDS]


@dataclass(frozen=True)
class _SettingsWithAnUndocumentedField:
    stage_name: str = field(metadata={"doc": "documented"})
    new_limit: int = field(default=1)

    @classmethod
    def accepted_values(cls, context: dict) -> dict[str, str]:
        return {"stage_name": "a name", "new_limit": "a whole number"}


def test_a_setting_without_a_description_is_refused_naming_it(context: dict) -> None:
    with pytest.raises(settings_doc.UndocumentedSetting, match=r"_SettingsWithAnUndocumentedField\.new_limit"):
        settings_doc.setting_lines(context, settings_class=_SettingsWithAnUndocumentedField)


@pytest.mark.parametrize(
    "key, wrong",
    [
        ("reconcile_interval_minutes", 2),
        ("usage_reporter", "stripe"),
        ("alarm_email", "ops at example.com"),
        ("accent_color", "blue"),
        ("stripe_webhook_ips", "not-an-ip"),
    ],
)
def test_accepts_is_in_the_words_of_the_check_itself(context: dict, key: str, wrong: object) -> None:
    accepts = Settings.accepted_values(context)[key]
    with pytest.raises(SettingsError) as refused:
        Settings.from_context({**context, key: wrong})
    assert accepts in str(refused.value)


def test_check_says_when_the_page_is_out_of_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "docs" / "settings.md"
    page.parent.mkdir()
    (tmp_path / "cdk.json").write_bytes((REPO_ROOT / "cdk.json").read_bytes())
    monkeypatch.setattr(settings_doc, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(settings_doc, "SETTINGS_PAGE", page)
    page.write_text("# Settings\n\nan old page\n", encoding="utf-8")

    assert settings_doc.main(["--check"]) == 1
    assert "run python -m infra.settings_doc" in capsys.readouterr().err
    assert settings_doc.main([]) == 0
    assert settings_doc.main(["--check"]) == 0
    assert page.read_text(encoding="utf-8") == (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
