"""What a newcomer meets on the command line: the same files from any directory, and `devtoken` on a
database without the demo organisation says what to do instead of printing a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import config
from service.config import Settings
from service.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_avv_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AVV_"):
            monkeypatch.delenv(name)


def test_default_database_and_key_are_in_the_checkouts_data_folder_whatever_the_directory(
        no_avv_env, tmp_path, monkeypatch):
    seen = []
    for where in (ROOT, tmp_path, ROOT / "service"):
        monkeypatch.chdir(where)
        settings = Settings()
        seen.append((settings.database_url, settings.dev_key_path))
    assert seen == [(f"sqlite:///{ROOT / 'data' / 'avvikelser.db'}", ROOT / "data" / "dev-signing-key.pem")] * 3


def test_data_dir_setting_moves_both_files_and_a_relative_one_is_fixed_at_start(no_avv_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVV_DATA_DIR", "here")
    settings = Settings()
    assert settings.data_dir == tmp_path / "here"
    assert settings.database_url == f"sqlite:///{tmp_path / 'here' / 'avvikelser.db'}"
    assert settings.dev_key_path == tmp_path / "here" / "dev-signing-key.pem"
    monkeypatch.setenv("AVV_DATABASE_URL", "sqlite:////elsewhere/x.db")  # an explicit setting still wins
    assert Settings().database_url == "sqlite:////elsewhere/x.db"


def test_an_installed_package_keeps_its_data_in_the_users_data_folder(no_avv_env, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")  # no pyproject.toml beside it
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == tmp_path / "xdg" / "avvikelser"


def _cli(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AVV_")}
    env.update(AVV_DATABASE_URL=database_url, AVV_DEV_KEY_PATH=str(cwd / "key.pem"), AVV_AUTH_MODE="dev")
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_devtoken_without_a_database_says_to_migrate_and_creates_nothing(tmp_path):
    missing = tmp_path / "data" / "avvikelser.db"
    done = _cli("devtoken", "--role", "reporter", database_url=f"sqlite:///{missing}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "python -m service migrate" in done.stderr
    assert "Traceback" not in done.stderr
    assert not missing.exists()


def test_devtoken_on_an_empty_database_says_what_to_do_and_fails(fresh_database, tmp_path):
    """`scripts/serve --no-demo` leaves the database migrated but empty: the demo units are not there."""
    url = fresh_database()
    upgrade(url)
    done = _cli("devtoken", "--role", "reporter", database_url=url, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""  # nothing a `TOKEN=$(...)` could take for a token
    assert "Traceback" not in done.stderr
    assert "no org unit 'SOC'" in done.stderr
    assert "python -m service demo" in done.stderr
    assert "--unit" in done.stderr

    unknown = _cli("devtoken", "--role", "investigator", "--unit", "NOPE", database_url=url, cwd=tmp_path)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "'NOPE'" in unknown.stderr

    # The way out it names works: an admin everywhere needs no unit, and can create them.
    admin = _cli("devtoken", "--role", "admin", "--unit", "*", database_url=url, cwd=tmp_path)
    assert admin.returncode == 0, admin.stderr
    assert admin.stdout.count(".") == 2  # one JWT

    assert _cli("demo", database_url=url, cwd=tmp_path).returncode == 0
    after = _cli("devtoken", "--role", "reporter", database_url=url, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
