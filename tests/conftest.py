"""Shared test setup.

Project convention: every test runs with numpy floating-point errors raised, so that an
overflow, a 0/0, an inf - inf or an underflow anywhere in the model code fails the test instead
of silently producing inf/nan/denormals. exp(-inf) = 0 is exact and raises nothing, so the
causal mask's -inf scores are fine under this setting.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    with np.errstate(all="raise"):
        yield


def pytest_addoption(parser):
    parser.addoption(
        "--regenerate",
        action="store_true",
        default=False,
        help="rewrite the golden images in tests/golden/ from the current renderer",
    )


@pytest.fixture(scope="session")
def regenerate(request) -> bool:
    return bool(request.config.getoption("--regenerate"))


# the models most tests look at, loaded once per test module (as each module did itself)
@pytest.fixture(scope="module")
def nano():
    from llmviz_desktop.session.loaded import load_model

    return load_model("nano-sort")


@pytest.fixture(scope="module")
def gpt3():
    from llmviz_desktop.session.loaded import load_model

    return load_model("gpt3")
