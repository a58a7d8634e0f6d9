"""The owner's brand settings (infra/branding.py): read from cdk.json context, refused with the key's
name when wrong, and handed to the pages in config.json with the CSP letting the logo load."""

import json
import re

import pytest
from infra_synth import BRAND, REPO_ROOT, resolve_join

from infra import site_delivery
from infra.branding import Branding
from infra.settings import Settings, SettingsError, load_cdk_json_context
from testkit.dev_stack import cdk_json_plans


@pytest.fixture
def context():
    return load_cdk_json_context(REPO_ROOT / "cdk.json")


def test_cdk_json_ships_the_neutral_brand(context):
    branding = Settings.from_context(context).branding

    assert branding == Branding()
    assert "tollgate" not in branding.product_name.lower()
    assert (branding.logo_url, branding.terms_url, branding.privacy_url, branding.support_contact) == (None,) * 4


def test_every_brand_setting_is_read_from_its_own_key(context):
    branding = Settings.from_context({**context, **BRAND}).branding

    assert branding == Branding(
        product_name="Acme Weather",
        accent_color="#1a1a2e",
        logo_url="https://cdn.acme.example/logo.svg",
        terms_url="https://acme.example/terms",
        privacy_url="https://acme.example/privacy",
        support_contact="help@acme.example",
    )
    assert set(BRAND) <= set(Settings.context_keys())
    assert "branding" not in Settings.context_keys()  # app.py reads the flat keys, not the field's name


@pytest.mark.parametrize(
    ("contact", "href"),
    [("help@acme.example", "mailto:help@acme.example"), ("https://acme.example/help", "https://acme.example/help")],
)
def test_support_contact_is_an_email_or_a_page(context, contact, href):
    assert Settings.from_context({**context, "support_contact": contact}).branding.support_href == href


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("product_name", "Acme\nWeather", "'product_name' must be your product's name as customers know it"),
        ("product_name", "x" * 61, "'product_name' must be your product's name as customers know it, 1-60"),
        ("accent_color", "blue", "'accent_color' must be a colour as #rrggbb, e.g. #3346d3; got 'blue'"),
        ("accent_color", "#12345", "'accent_color' must be a colour as #rrggbb"),
        ("logo_url", "http://acme.example/logo.svg", "'logo_url' must be an https URL of your logo"),
        ("terms_url", "acme.example/terms", "'terms_url' must be an https URL of your terms of service or empty"),
        ("privacy_url", "javascript:alert(1)", "'privacy_url' must be an https URL of your privacy policy"),
        ("support_contact", "call us", "'support_contact' must be an email address (support@your-domain.com) or"),
    ],
)
def test_a_wrong_brand_value_names_the_key_and_what_to_do(context, key, value, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({**context, key: value})

    assert message in str(raised.value)


def test_config_json_gives_the_pages_the_brand(tmp_path):
    branding = Settings.from_context({**load_cdk_json_context(REPO_ROOT / "cdk.json"), **BRAND}).branding

    brand = site_delivery.site_config("https://api.example", cdk_json_plans(), branding, tmp_path)["brand"]

    assert brand == {
        "productName": "Acme Weather",
        "accentColor": "#1a1a2e",
        "logo": "https://cdn.acme.example/logo.svg",
        "termsUrl": "https://acme.example/terms",
        "privacyUrl": "https://acme.example/privacy",
        "supportUrl": "mailto:help@acme.example",
        "supportLabel": "help@acme.example",
    }
    assert "img-src 'self' data: https://cdn.acme.example;" in site_delivery.content_security_policy(
        site_delivery.logo_origin(branding, tmp_path)
    )


@pytest.mark.parametrize("logo_file", site_delivery.LOGO_FILES)
def test_a_logo_file_in_the_site_wins_over_logo_url_and_needs_no_other_image_origin(tmp_path, logo_file):
    branding = Branding(logo_url="https://cdn.acme.example/logo.svg")
    (tmp_path / logo_file).write_bytes(b"logo")

    assert (
        site_delivery.site_config("https://api.example", cdk_json_plans(), branding, tmp_path)["brand"]["logo"]
        == logo_file
    )
    assert site_delivery.logo_origin(branding, tmp_path) is None


def test_without_a_logo_the_page_loads_images_only_from_itself(tmp_path):
    assert (
        site_delivery.site_config("https://api.example", cdk_json_plans(), Branding(), tmp_path)["brand"]["logo"]
        is None
    )
    assert "img-src 'self' data:;" in site_delivery.content_security_policy(
        site_delivery.logo_origin(Branding(), tmp_path)
    )


def test_the_deployed_config_json_and_csp_carry_the_owners_brand(synth, synth_custom):
    for synthesized, product_name, image_sources in (
        (synth, "Your API", "img-src 'self' data:;"),
        (synth_custom, "Acme Weather", "img-src 'self' data: https://cdn.acme.example;"),
    ):
        config_asset = next(
            path for path in synthesized.outdir.glob("asset.*") if path.is_dir() and (path / "config.json").exists()
        )
        config = json.loads(
            re.sub(r"<<marker:0x[0-9a-f]+:\d+>>", '"marker"', (config_asset / "config.json").read_text())
        )
        (policy,) = synthesized.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
        csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]

        assert config["brand"]["productName"] == product_name
        assert image_sources in resolve_join(csp["ContentSecurityPolicy"])
