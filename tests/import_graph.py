"""The package's import graph, read from the source (every import statement: top-level,
function-local and under TYPE_CHECKING alike), and the layering rules it must follow.

    python tests/import_graph.py     # prints each package's imports and the module counts

The rules are those of ARCHITECTURE.md: data flows one way, each stage imports only the stages
above it, GL only in render/, imgui only in ui/ and render/ (which draws imgui's draw data).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "llmviz_desktop"
ROOT = "llmviz_desktop"

# stage -> the stages it may import (besides itself); `resources` finds the shipped data files
ALLOWED: dict[str, set[str]] = {
    "resources": set(),
    "model": {"resources"},
    "scene": {"model", "resources"},
    "walkthrough": {"scene", "model", "resources"},
    "demos": {"model", "resources"},
    "export": {"model", "resources"},
    "session": {"walkthrough", "scene", "model", "demos", "resources"},
    "render": {"scene", "model", "resources"},
    "ui": {"session", "walkthrough", "scene", "model", "demos", "resources"},
    "app": {"render", "ui", "session", "walkthrough", "scene", "model", "demos", "resources"},
    "cli": {
        "app",
        "render",
        "ui",
        "session",
        "walkthrough",
        "scene",
        "model",
        "demos",
        "export",
        "resources",
    },
}
# third-party libraries only some stages may use
ONLY_IN = {
    "moderngl": {"render"},
    "imgui_bundle": {"ui", "render"},
    "moderngl_window": {"app"},
    "glfw": {"app"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> str:
    """'llmviz_desktop.scene.hover' -> 'scene'; the package itself -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(module: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(modules of this package it imports, top-level names of other libraries it imports)."""
    ours: set[str] = set()
    theirs: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.split(".")[0] == ROOT else theirs).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != ROOT:
                theirs.add(target)
                continue
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{target}.{alias.name}"
                ours.add(sub if sub in known else target)
    return {m for m in ours if m != module}, {t.split(".")[0] for t in theirs}


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    mods = modules()
    known = set(mods)
    ours, theirs = {}, {}
    for name, path in mods.items():
        ours[name], theirs[name] = imports(name, path, known)
    return ours, theirs


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def violations() -> list[str]:
    """Every import that breaks a rule, one line each."""
    ours, theirs = graph()
    out = []
    for module in sorted(ours):
        stage = stage_of(module)
        if stage == "":
            continue
        allowed = ALLOWED.get(stage)
        if allowed is None:
            out.append(f"{module}: stage {stage!r} is not in the layering (ALLOWED)")
            continue
        for target in sorted(ours[module]):
            other = stage_of(target)
            if other not in ("", stage) and other not in allowed:
                out.append(f"{module} imports {target}: {stage} may not import {other}")
        for lib in sorted(theirs[module]):
            if lib in ONLY_IN and stage not in ONLY_IN[lib]:
                out.append(f"{module} imports {lib}: only {sorted(ONLY_IN[lib])} may")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(ours)]
    return out


def main() -> int:
    ours, _ = graph()
    files = [p for p in modules().values() if p.name != "__init__.py"]
    counts = Counter(p.parent.name if p.parent != PACKAGE else p.stem for p in files)
    by_stage: dict[str, set[str]] = {}
    for module, targets in ours.items():
        stage = stage_of(module)
        if not stage:
            continue
        by_stage.setdefault(stage, set()).update(
            stage_of(t) for t in targets if stage_of(t) not in ("", stage)
        )
    print(f"{'stage':<12} {'modules':>7}  imports (function-local and TYPE_CHECKING included)")
    for stage in sorted(by_stage, key=lambda s: (-len(ALLOWED.get(s, ())), s)):
        print(f"{stage:<12} {counts[stage]:>7}  {', '.join(sorted(by_stage[stage])) or '-'}")
    bad = violations()
    print("\n".join(bad) or "no cycles, no forbidden imports")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
