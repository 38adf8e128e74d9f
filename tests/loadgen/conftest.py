"""Fixtures for the LoadGen harness tests: a real small model and its data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Digits:
    """A classifier trained on scikit-learn's digits, exported to ONNX."""

    model_path: Path
    inputs: Any  # float32 (n, 64), the held-out split
    labels: Any  # int64 (n,)
    sklearn_accuracy: float


@pytest.fixture(autouse=True)
def benchmark_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A benchmark lock of the test's own: the machine's is for real measurements."""
    path = tmp_path / "benchmark.lock"
    monkeypatch.setenv("CMPY_BENCHMARK_LOCK", str(path))
    return path


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Digits:
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    pytest.importorskip("skl2onnx")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    features, target = load_digits(return_X_y=True)
    features = (features / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.2, random_state=0, stratify=target
    )
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    onnx_model = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, 64]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    path = tmp_path_factory.mktemp("model") / "digits.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    return Digits(
        model_path=path,
        inputs=x_test,
        labels=y_test.astype(np.int64),
        sklearn_accuracy=float(model.score(x_test, y_test)),
    )


@pytest.fixture
def recorded() -> Path:
    """The folder of recorded LoadGen detail logs (see data/record_logs.py)."""
    return DATA
