"""The package's shape: pages declared once, each owning its config, run and context; page caches keyed by the
page's own code, so that editing one page's module rebuilds that page only."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from generator.cache import code_modules, code_version
from generator.pages import GALLERIES, HOME, PAGES

PACKAGE = ROOT / "generator"


def test_the_package_has_a_subpackage_per_pipeline_stage():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"data", "models", "engines", "pages", "site"} <= stages


def test_no_python_file_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), ROOT / "build.py"]
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long


@pytest.mark.parametrize("page", GALLERIES, ids=lambda p: p.name)
def test_every_page_owns_a_frozen_config_with_a_quick_variant(page):
    module = page.load()
    config = module.Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.__setattr__(dataclasses.fields(config)[0].name, None)
    assert type(config.quick()) is module.Config
    assert callable(module.run) and callable(module.context)


def test_pages_are_declared_once_with_a_template_each():
    names = [p.name for p in PAGES]
    assert len(names) == len(set(names)) and HOME.name == "index"
    assert all((ROOT / "templates" / f"{name}.html").is_file() for name in names)


def test_a_page_imports_only_what_it_uses():
    muddle, dreams = code_modules("generator.pages.muddle"), code_modules("generator.pages.dreams")
    assert "generator.engines.latent_walk" in muddle and "generator.engines.optvis" not in muddle
    assert "generator.engines.optvis" in dreams and "generator.pages.muddle" not in dreams


def edited_copy(tmp_path: Path, relative: str) -> Path:
    """A copy of the package with a comment line appended to one of its files."""
    root = tmp_path / "generator"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    with open(root / relative, "a") as file:
        file.write("# an edit\n")
    return root


def versions(root: Path) -> dict[str, str]:
    return {p.name: code_version(p.module_name, root=root, skip=("generator.site.charts",)) for p in PAGES}


def test_a_comment_in_one_page_changes_that_page_code_version_only(tmp_path):
    before, after = versions(PACKAGE), versions(edited_copy(tmp_path, "pages/muddle.py"))
    assert [name for name in before if before[name] != after[name]] == ["muddle"]


def test_an_edit_to_a_shared_engine_changes_the_pages_that_use_it(tmp_path):
    before, after = versions(PACKAGE), versions(edited_copy(tmp_path, "engines/optvis.py"))
    assert sorted(name for name in before if before[name] != after[name]) == ["ambiguous", "dreams"]


def test_a_chart_edit_changes_no_page_code_version(tmp_path):
    assert versions(PACKAGE) == versions(edited_copy(tmp_path, "site/charts.py"))


def test_editing_one_page_module_rebuilds_that_page_only(quick_build, tmp_path):
    """End to end: a checkout whose muddle module gained a comment rebuilds the muddle page and nothing else."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("build.py", "templates"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, checkout / name)
    edited_copy(checkout, "pages/muddle.py")
    (checkout / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    cache = tmp_path / "models"
    shutil.copytree(quick_build["cache"], cache)
    result = run_cli("build", "--quick", "--device", "cpu", "--out", str(tmp_path / "site"), "--cache", str(cache),
                     cwd=checkout, script=checkout / "build.py")
    assert result.returncode == 0, result.stderr[-2000:]
    status = {line.split()[1]: line.split()[2] for line in result.stdout.splitlines() if line.startswith("page ")}
    assert status.pop("muddle") == "rebuilt"
    assert set(status.values()) == {"cached"}, status


def test_build_json_records_every_config(quick_build):
    record = json.loads((quick_build["out"] / "data" / "build.json").read_text())
    assert set(record["pages"]) == {p.name for p in GALLERIES}
    assert record["pages"]["muddle"]["per_class"] == 3                      # the quick variant
    assert record["models"]["reader"]["train"]["train_limit"] == 2000
    assert record["facts"]["quick"] is True


def test_no_source_file_is_git_ignored():
    """A .gitignore pattern meant for build output must not hide code (it once hid generator/data/ and others)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    sources = [str(p.relative_to(ROOT)) for folder in ("generator", "templates", "tests", "bench")
               for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *sources], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == []
