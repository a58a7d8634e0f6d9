"""The documentation site builds strictly, and what points into it resolves.

The site is built once per session the way `make docs` serves it and CI would publish it,
`mkdocs build --strict`, into a temporary directory: a broken link, an anchor that does not exist,
a page missing from the nav or a missing include fails the build (mkdocs.yml's `validation`).
The README is not part of the site, so its links into docs/ are checked here against the built
pages; so are the `docs/<page>.md` paths the code cites, and the Stripe bridge's modules, which the
local development page must each name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tollgate import contract
from tollgate.domain.api_key_format import key_pattern, new_key

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
README_MAX_LINES = 200
# A relative link into docs/ in Markdown: (docs/<page>.md#anchor) or (docs/).
README_DOCS_LINK = re.compile(r"\]\((docs/[^)#\s]*)(?:#([^)\s]+))?\)")
CITED_PAGE = re.compile(r"\bdocs/([a-z0-9-]+\.md)\b")
CITED_TEST = re.compile(r"`(test_[a-z0-9_]+)`")


@dataclass(frozen=True)
class Build:
    returncode: int
    output: str
    site: Path


def build_site(project: Path, site: Path) -> Build:
    """`mkdocs build --strict` of `project`'s mkdocs.yml into `site`."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return Build(result.returncode, result.stdout + result.stderr, site)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    return build_site(REPO_ROOT, tmp_path_factory.mktemp("docs-site") / "site")


def page_ids(html_file: Path) -> set[str]:
    class Ids(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found.update(value for name, value in attrs if name == "id" and value)

    parser = Ids()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.found


def built_page(site: Path, page: str) -> Path:
    """docs/<page>.md's HTML in the built site (directory URLs: architecture.md -> architecture/index.html)."""
    stem = page.removesuffix(".md")
    return site / ("index.html" if stem == "index" else f"{stem}/index.html")


def test_the_site_builds_in_strict_mode(site: Build) -> None:
    assert site.returncode == 0, f"mkdocs build --strict failed:\n{site.output}"


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(REPO_ROOT / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copy(README, project / "README.md")
    page = project / "docs" / "scaling.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\nSee [the limits](operations.md#no-such-section).\n", encoding="utf-8"
    )

    broken = build_site(project, tmp_path / "site")

    assert broken.returncode != 0
    assert "no-such-section" in broken.output


def test_mermaid_diagrams_reach_the_pages_as_diagrams(site: Build) -> None:
    """Material renders `<pre class="mermaid">` blocks; a fence left as highlighted code would not draw."""
    for page in ("index.md", "architecture.md", "sign-up.md", "usage-metering.md"):
        html = built_page(site.site, page).read_text(encoding="utf-8")
        assert '<pre class="mermaid"><code>' in html, page
        assert "language-mermaid" not in html, page


def test_the_readme_diagram_and_idle_cost_are_the_ones_the_site_shows(site: Build) -> None:
    """One source: docs/index.md and docs/deploying.md include them from README.md."""
    readme = README.read_text(encoding="utf-8")
    home = built_page(site.site, "index.md").read_text(encoding="utf-8")
    deploying = built_page(site.site, "deploying.md").read_text(encoding="utf-8")
    idle_cost = re.search(r"about \*\*(\$[\d.]+ a month)\*\*", readme)
    assert idle_cost, "the README states what a deploy costs at idle"
    assert "register λ" in readme and "register λ" in home
    assert idle_cost.group(1) in deploying


def test_the_readme_links_into_docs_resolve(site: Build) -> None:
    links = README_DOCS_LINK.findall(README.read_text(encoding="utf-8"))
    assert links, "the README links into docs/"
    for target, anchor in links:
        path = REPO_ROOT / target
        assert path.exists(), f"README links to {target}, which does not exist"
        if anchor:
            assert anchor in page_ids(built_page(site.site, path.name)), f"README links to {target}#{anchor}"


def test_the_readme_stays_the_front_door() -> None:
    """Short, with the two set-up commands (the quick start a newcomer runs first)."""
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES, "move the detail into a docs/ page"
    assert "make dev" in readme and "make test" in readme


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [REPO_ROOT / name for name in listed.stdout.split("\0") if name]


def test_every_docs_page_the_code_cites_exists() -> None:
    missing = []
    for path in tracked_files():
        if path.suffix not in {".py", ".md", ".js", ".html", ".yml", ".json"} or not path.is_file():
            continue
        for page in CITED_PAGE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (DOCS / page).exists():
                missing.append(f"{path.relative_to(REPO_ROOT)} cites docs/{page}")
    assert not missing, missing


def test_the_local_development_page_names_every_stripe_bridge_module() -> None:
    page = (DOCS / "local-development.md").read_text(encoding="utf-8")
    modules = sorted(
        path.name for path in (REPO_ROOT / "localdev" / "stripe_bridge").glob("*.py") if path.name != "__init__.py"
    )
    assert modules
    assert [name for name in modules if f"`{name}`" not in page] == []


def test_every_test_the_docs_name_exists() -> None:
    """The guarantees name the tests that prove them: a renamed or removed test must not leave a claim behind."""
    defined = set()
    for path in (REPO_ROOT / "tests").rglob("test_*.py"):
        defined.update(re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(encoding="utf-8"), re.M))
    cited = {name for page in DOCS.glob("*.md") for name in CITED_TEST.findall(page.read_text(encoding="utf-8"))}
    assert cited, "docs/money-guarantees.md names its tests"
    assert sorted(cited - defined) == []


def test_the_security_page_gives_secret_scanners_the_key_format_the_code_issues() -> None:
    page = (DOCS / "security.md").read_text(encoding="utf-8")
    pattern = key_pattern(contract.DEFAULT_KEY_PREFIX)
    assert f"\n  {pattern}\n" in page
    assert re.search(pattern, f"leaked: {new_key(contract.DEFAULT_KEY_PREFIX, 'live')}.")
