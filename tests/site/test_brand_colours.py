"""site/brand.js's colour maths, run in Chromium as the pages run it: WCAG contrast ratios match
known values, and whatever accent an owner picks, the colours derived from it read at AA on the
real page backgrounds (styles.css) of the light and the dark theme. Also: a logo file dropped into
site/ is what the header shows, loaded under the CSP."""

from __future__ import annotations

import shutil
from typing import Literal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from testkit.dev_stack import cdk_json_plans
from infra.site_delivery import SITE_DIR
from localdev.site_server import SiteServer
from signup_page import page_without_api

pytestmark = pytest.mark.browser

# Primaries, greys around the black/white tipping point, the brief's dark and light accents, pastels.
ACCENTS = ["#000000", "#ffffff", "#ff0000", "#00ff00", "#0000ff", "#ffff00", "#00ffff", "#ff00ff", "#777777",
           "#767676", "#808080", "#1a1a2e", "#ffe14d", "#3346d3", "#f4a6c0", "#2e8b57", "#ff9f1c", "#181c27"]
PAGE_BACKGROUNDS = ["--bg", "--surface", "--surface-sunken"]

# What each accent's derived colours are checked against: (colour property, background properties, minimum).
CHECKS = [("--accent-text", ["--accent"], 4.5), ("--accent-text", ["--accent-strong"], 4.5),
          ("--link", PAGE_BACKGROUNDS, 4.5), ("--accent-edge", PAGE_BACKGROUNDS, 3)]


@pytest.fixture(scope="module")
def page(browser_context: BrowserContext) -> Iterator[Page]:
    with page_without_api(browser_context, "window.TollgateBrand !== undefined") as page:
        page.evaluate("() => TollgateBrand.ready")
        yield page


def contrast(page: Page, first: str, second: str) -> float:
    return page.evaluate("([a, b]) => TollgateBrand.contrastRatio(a, b)", [first, second])


@pytest.mark.parametrize(("first", "second", "ratio"), [
    ("#000000", "#ffffff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54),
    ("#777777", "#ffffff", 4.48), ("#0000ff", "#ffffff", 8.59), ("#ff0000", "#000000", 5.25)])
def test_contrast_ratio_is_wcags_either_way_round(page: Page, first: str, second: str, ratio: float) -> None:
    assert round(contrast(page, first, second), 2) == ratio
    assert contrast(page, second, first) == contrast(page, first, second)


def test_text_on_an_accent_is_black_or_white_whichever_reads_better(page: Page) -> None:
    assert page.evaluate("() => [TollgateBrand.textOn('#1a1a2e'), TollgateBrand.textOn('#ffe14d')]") == [
        "#ffffff", "#000000"]


def test_an_accent_that_already_reads_is_kept_as_it_is(page: Page) -> None:
    assert page.evaluate("() => TollgateBrand.readableOn('#1a1a2e', ['#ffffff', '#f5f6fa'])") == "#1a1a2e"
    assert page.evaluate("() => TollgateBrand.readableOn('#ffe14d', ['#0f121a', '#181c27'])") == "#ffe14d"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_colour_derived_from_any_accent_reads_at_aa_on_the_pages_backgrounds(page: Page, scheme: Literal["light", "dark"]) -> None:
    page.emulate_media(color_scheme=scheme)
    failures = page.evaluate("""([accents, checks, backgrounds]) => {
        const style = getComputedStyle(document.documentElement);
        const pageColours = Object.fromEntries(backgrounds.map((name) => [name, style.getPropertyValue(name).trim()]));
        const failures = [];
        for (const accent of accents) {
            const palette = {...pageColours, ...TollgateBrand.accentPalette(accent, Object.values(pageColours))};
            for (const [colour, against, minimum] of checks) {
                for (const background of against) {
                    const ratio = TollgateBrand.contrastRatio(palette[colour], palette[background]);
                    if (ratio < minimum) failures.push(`${accent}: ${colour} on ${background} is ${ratio.toFixed(2)}`);
                }
            }
        }
        return failures;
    }""", [ACCENTS, CHECKS, PAGE_BACKGROUNDS])
    page.emulate_media(color_scheme="light")

    assert failures == []


def test_a_logo_file_in_the_site_is_the_header_logo(browser_context: BrowserContext, tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    shutil.copytree(SITE_DIR, site_dir)
    (site_dir / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
                                       '<rect width="40" height="40"/></svg>')
    with SiteServer("http://127.0.0.1:9", plans=cdk_json_plans(), site_dir=site_dir) as site:
        page = browser_context.new_page()
        page.goto(site.url + "/")
        page.wait_for_function("() => document.getElementById('brand-logo').naturalWidth > 0")

        assert page.locator("#brand-logo").get_attribute("src") == "logo.svg"
        assert page.locator("#brand-mark").is_hidden()
        page.close()
