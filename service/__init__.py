"""Avvikelser: deviation reports and lex Sarah cases.

`__version__` is the project's version from pyproject.toml, the one place it is written: read from the
installed package's metadata, or from pyproject.toml itself when the service runs from a source tree that
was not installed (the container image copies the file for that).
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DISTRIBUTION = "avvikelser"


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        with pyproject.open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])


__version__ = _version()
