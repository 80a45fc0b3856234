"""Data flows one way (ARCHITECTURE.md): no import cycle, and no stage imports a stage below it,
counting function-local and TYPE_CHECKING imports. The rules are in tests/import_graph.py."""

from __future__ import annotations

import import_graph


def test_no_cycle_and_no_forbidden_import():
    assert import_graph.violations() == []


def test_the_checker_sees_function_local_and_type_checking_imports(tmp_path, monkeypatch):
    """A renderer that reached for the app state inside a function, or a model module that
    imported the scene only for type checking, would be caught."""
    pkg = tmp_path / "llmviz_desktop"
    for stage in ("render", "model", "session", "scene"):
        (pkg / stage).mkdir(parents=True)
        (pkg / stage / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "session" / "state.py").write_text("from ..scene import x\n")
    (pkg / "scene" / "x.py").write_text("")
    (pkg / "render" / "frame.py").write_text(
        "def draw():\n    from ..session.state import AppState\n    import moderngl\n"
    )
    (pkg / "model" / "gpt.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..scene import x\n"
    )
    (pkg / "scene" / "y.py").write_text("import imgui_bundle\nfrom . import z\n")
    (pkg / "scene" / "z.py").write_text("from . import y\n")
    monkeypatch.setattr(import_graph, "PACKAGE", pkg)
    found = "\n".join(import_graph.violations())
    assert "render.frame imports llmviz_desktop.session.state: render may not import session" in (
        found
    )
    assert "model.gpt imports llmviz_desktop.scene.x: model may not import scene" in found
    assert "scene.y imports imgui_bundle" in found
    assert "import cycle: llmviz_desktop.scene.y -> llmviz_desktop.scene.z" in found
    assert "render.frame imports moderngl" not in found  # GL in render/ is the point
