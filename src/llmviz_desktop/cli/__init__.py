"""The `llmviz` command line: the window, render, infer, params, train, export-video."""

from .main import main

__all__ = ["main"]
