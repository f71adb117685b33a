"""The dependency locks (requirements/*.txt, written by scripts/lock) agree with pyproject.toml.

After a dependency is added to or changed in pyproject.toml, these fail until `scripts/lock` is run:
bootstrap, scripts/serve and the Dockerfile install from the locks alone, so a dependency missing there
would be missing everywhere.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = ROOT / "requirements" / "runtime.txt"
TEST = ROOT / "requirements" / "test.txt"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
FIX = "run scripts/lock and commit requirements/"


def _pins(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, its hashes), from a lock written with --generate-hashes."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("--hash="):
            assert current is not None, f"{path.name}: a hash outside a requirement: {text}"
            current.append(text.removeprefix("--hash=").rstrip("\\ "))
            continue
        match = PIN.match(text)
        assert match, f"{path.name}: not an exact pin: {text!r} ({FIX})"
        current = []
        pins[canonicalize_name(match["name"])] = (Version(match["version"]), current)
    return pins


def _applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


RUNTIME_NEEDS = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]] + \
    [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]
TEST_NEEDS = RUNTIME_NEEDS + [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"]["test"]]


@pytest.mark.parametrize(("lock", "needs"), [(RUNTIME, RUNTIME_NEEDS), (TEST, TEST_NEEDS)],
                         ids=["runtime", "test"])
def test_every_direct_dependency_is_pinned_within_its_range(lock, needs):
    pins = _pins(lock)
    wrong = []
    for requirement in filter(_applies, needs):
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            wrong.append(f"{requirement} is not in {lock.name}")
        elif not requirement.specifier.contains(pinned[0], prereleases=True):
            wrong.append(f"{requirement} but {lock.name} pins {pinned[0]}")
    assert not wrong, f"pyproject.toml and the lock disagree ({FIX}):\n" + "\n".join(wrong)


def test_the_test_lock_runs_the_runtime_locks_versions():
    runtime, test = _pins(RUNTIME), _pins(TEST)
    differ = [f"{name}: {version} in runtime.txt, {test[name][0] if name in test else 'missing'} in test.txt"
              for name, (version, _) in runtime.items() if name not in test or test[name][0] != version]
    assert not differ, f"the tests would not run what the service runs ({FIX}):\n" + "\n".join(differ)


@pytest.mark.parametrize("lock", [RUNTIME, TEST], ids=["runtime", "test"])
def test_every_pin_carries_hashes_and_the_lock_names_no_index(lock):
    unhashed = [name for name, (_, hashes) in _pins(lock).items() if not hashes]
    assert not unhashed, f"{lock.name}: pins without --hash ({FIX}): {unhashed}"
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) for _, hashes in _pins(lock).values() for digest in hashes)
    text = lock.read_text(encoding="utf-8")
    assert "://" not in text and "--index-url" not in text and "--find-links" not in text, \
        f"{lock.name} names an index or a URL: the lock must work with whatever index pip is configured with"
