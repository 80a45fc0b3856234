"""The architecture stays visible: the model is pure numpy, and the wheel ships its data."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import llmviz_desktop

PACKAGE = Path(llmviz_desktop.__file__).parent
REPO = PACKAGE.parents[1]
GUI_MODULES = {"moderngl", "moderngl_window", "imgui_bundle", "glfw", "pyglet", "pyrr", "OpenGL"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            names.add(prefix)
    return names


def test_model_package_imports_no_gl_ui_or_layout():
    for path in sorted((PACKAGE / "model").glob("*.py")):
        for name in imported_modules(path):
            top = name.lstrip(".").split(".")[0]
            assert top not in GUI_MODULES, f"{path.name} imports {name}"
            assert top not in {"torch", "jax"}, f"{path.name} imports {name}"
            if name.startswith(".."):  # leaving the model package: only resources may be used
                assert name in ("..resources",), f"{path.name} imports {name}"
            assert not name.lstrip(".").startswith(("layout", "render", "ui", "app")), name


def test_model_import_loads_no_gl_modules():
    code = (
        "import sys, llmviz_desktop.model.weights, llmviz_desktop.model.train, "
        "llmviz_desktop.cli.main; bad = {'moderngl', 'imgui_bundle', 'glfw', 'torch'} & "
        "set(sys.modules); print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_wheel_carries_shaders_assets_and_walkthrough(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("shaders", "assets", "walkthrough"):
        assert any(n.startswith(f"llmviz_desktop/_data/{folder}/") for n in names), folder
    assert "llmviz_desktop/_data/assets/models/nano-sort/model.safetensors" in names
    assert "llmviz_desktop/_data/assets/models/nano-sort/config.json" in names
