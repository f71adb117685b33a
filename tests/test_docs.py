"""The repository stands on its own: the documents cite only what exists in it."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "docs" / "requirements.md"
# `tests/x.py::test_name`, or `…::test_name` for another test of the file named just before it.
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py|…)::(\w+)`")
# Spelled in pieces so that this file does not itself cite them.
_OUTSIDE_CITATIONS = ("../" + "shared", "DOMAIN" + ".md", "shared/" + "reference")
# Requirement codes of the outside list ("R-", letters, a digit); the project's own are docs/requirements.md's.
_OUTSIDE_CODE = re.compile(r"\bR-[A-Z]{1,3}\d")
_PATH_REF = re.compile(r"`((?:service|tests|migrations|docs|bench|scripts)/[\w./-]+)`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_test_the_requirements_cite_exists():
    text = REQUIREMENTS.read_text()
    current: str | None = None
    missing = []
    cited = 0
    for file, name in _TEST_REF.findall(text):
        current = current if file == "…" else file
        assert current is not None, f"'…::{name}' with no file named before it"
        cited += 1
        if name not in _functions(ROOT / current):
            missing.append(f"{current}::{name}")
    assert cited > 20
    assert not missing, f"docs/requirements.md cites tests that do not exist: {missing}"


def test_every_path_the_documents_cite_exists():
    missing = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in _PATH_REF.findall(document.read_text()):
            if not (ROOT / path.rstrip(".")).exists() and "*" not in path:
                missing.append(f"{document.name}: {path}")
    assert not missing, f"documents cite files that do not exist: {missing}"


def test_no_tracked_file_points_outside_the_repository():
    """Notes a clone does not have (the steering folder beside the checkout, its domain brief) must not be cited."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offending = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".json", ".toml", ".yaml", ".yml", ".sh", ".mjs", ".sql", ""}:
            continue
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if any(citation in text for citation in _OUTSIDE_CITATIONS) or _OUTSIDE_CODE.search(text):
            offending.append(name)
    assert not offending, f"cite the project's own docs/ instead: {offending}"


def test_running_several_instances_says_of_every_setting_whether_it_must_be_equal():
    """README "Running several instances" names each setting of service/config.py once: equal, or per process."""
    from service.config import Settings

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running several instances"):]
    section = section[:section.index("\n## ", 1)]
    equal = section[section.index("**Settings that must be equal"):section.index("**Per process**")]
    per_process = section[section.index("**Per process**"):section.index("Each process holds")]
    settings = {f"AVV_{name.upper()}" for name in Settings.model_fields}
    named_equal = set(re.findall(r"`(AVV_[A-Z_]+)`", equal))
    named_per_process = set(re.findall(r"`(AVV_[A-Z_]+)`", per_process))
    assert named_equal & named_per_process == set()
    assert named_equal | named_per_process == settings, (
        f"not named: {sorted(settings - named_equal - named_per_process)}; "
        f"not settings: {sorted((named_equal | named_per_process) - settings)}")
