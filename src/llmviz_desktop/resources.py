"""The one place that finds the shipped data folders (shaders/, assets/, walkthrough/).

In a wheel they are package data under llmviz_desktop/_data; in a checkout (editable install
or PYTHONPATH=src) they are the repository's top-level folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    for root in (_PACKAGE / "_data", _PACKAGE.parents[1]):
        if (root / "assets").is_dir() and (root / "shaders").is_dir():
            return root
    raise FileNotFoundError(
        f"llmviz data folders (assets/, shaders/, walkthrough/) not found near {_PACKAGE}; "
        "reinstall the package"
    )


def shaders_dir() -> Path:
    return data_root() / "shaders"


def assets_dir() -> Path:
    return data_root() / "assets"


def walkthrough_dir() -> Path:
    return data_root() / "walkthrough"


def shipped_model_dir(name: str) -> Path:
    """assets/models/<name>: a shipped checkpoint (config.json + model.safetensors)."""
    return assets_dir() / "models" / name
