"""Backends and the dataset: clear failures before and during a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmpy._errors import CmpyError, ToolNotFound, UsageError
from cmpy.loadgen import (
    Backend,
    BackendError,
    Dataset,
    LoadgenSettings,
    NullBackend,
    OnnxRuntimeBackend,
    run_benchmark,
)

np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")


def test_null_backend_answers_class_zero() -> None:
    backend = NullBackend()
    assert isinstance(backend, Backend)
    with pytest.raises(BackendError, match="predict\\(\\) before load\\(\\)"):
        backend.predict(np.arange(3))
    backend.load(Dataset(np.zeros((10, 2))))
    out = backend.predict(np.arange(5000))
    assert out.shape == (5000,) and out.dtype == np.int64 and not out.any()
    backend.close()


def test_onnxruntime_backend_predicts(digits: Any) -> None:
    backend = OnnxRuntimeBackend(digits.model_path, threads=1)
    assert isinstance(backend, Backend) and backend.name == "onnxruntime-cpu"
    backend.load(Dataset(digits.inputs.astype(np.float64), digits.labels))  # staged as float32
    predicted = backend.predict(np.arange(len(digits.labels)))
    assert predicted.shape == (len(digits.labels),)
    assert (predicted == digits.labels).mean() == pytest.approx(digits.sklearn_accuracy, abs=0.01)
    backend.close()
    with pytest.raises(BackendError):
        backend.predict(np.arange(2))


def test_missing_cuda_provider_is_a_clear_error(digits: Any) -> None:
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ToolNotFound) as caught:
        OnnxRuntimeBackend(digits.model_path, device="cuda")
    text = str(caught.value)
    assert "CUDAExecutionProvider" in text and "not found" in text
    assert "CPUExecutionProvider" in text  # what is available instead
    assert "onnxruntime-gpu" in text
    assert caught.value.searched == tuple(available)


def test_unknown_device_and_provider(digits: Any) -> None:
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        OnnxRuntimeBackend(digits.model_path, device="tpu")
    with pytest.raises(ToolNotFound, match="NoSuchExecutionProvider"):
        OnnxRuntimeBackend(digits.model_path, providers=["NoSuchExecutionProvider"])
    with pytest.raises(UsageError, match="threads must be a positive integer"):
        OnnxRuntimeBackend(digits.model_path, threads=0)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        OnnxRuntimeBackend(tmp_path / "absent.onnx")


def test_corrupt_model_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07this is not a protobuf of a model")
    backend = OnnxRuntimeBackend(broken)
    with pytest.raises(BackendError) as caught:
        backend.load(Dataset(np.zeros((4, 64), np.float32)))
    text = str(caught.value)
    assert isinstance(caught.value, CmpyError)
    assert "cannot load" in text and "broken.onnx" in text
    assert "[ONNXRuntimeError]" not in text  # the message, not onnxruntime's framing
    assert "download it again" in text


def test_wrong_names_and_shapes(digits: Any) -> None:
    data = Dataset(digits.inputs, digits.labels)
    with pytest.raises(UsageError, match=r"(?s)has no input 'pixels'.*its inputs are: input"):
        OnnxRuntimeBackend(digits.model_path, input_name="pixels").load(data)
    with pytest.raises(UsageError, match=r"(?s)has no output 'logits'.*label, probabilities"):
        OnnxRuntimeBackend(digits.model_path, output_name="logits").load(data)
    with pytest.raises(BackendError, match="rejects the samples"):
        OnnxRuntimeBackend(digits.model_path).load(Dataset(np.zeros((4, 10), np.float32)))


def test_dataset_checks() -> None:
    with pytest.raises(UsageError, match="no samples"):
        Dataset(np.zeros((0, 3)))
    with pytest.raises(UsageError, match="5 inputs but labels of shape"):
        Dataset(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(UsageError, match=r"performance_count must be 1\.\.5"):
        Dataset(np.zeros((5, 3)), performance_count=6)
    data = Dataset(np.zeros((5, 3)), performance_count=2, name="tiny")
    assert len(data) == 5 and data.performance_count == 2 and "tiny" in repr(data)


class _Failing(NullBackend):
    """Fails on its third call: the run must end, not hang, and say why."""

    name = "failing"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def predict(self, indices: Any) -> Any:
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("device lost")
        return super().predict(indices)


class _Short(NullBackend):
    name = "short"

    def predict(self, indices: Any) -> Any:
        return super().predict(indices)[:-1]


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_a_backend_failing_mid_run_ends_the_run_with_its_error(
    tmp_path: Path, scenario: str
) -> None:
    settings = LoadgenSettings(
        scenario=scenario, min_duration_ms=200, target_qps=1000.0, target_latency_ms=0.05
    )
    with pytest.raises(
        BackendError, match="failing: failed during the LoadGen run: RuntimeError: device lost"
    ):
        run_benchmark(
            settings,
            _Failing(),
            Dataset(np.zeros((64, 1))),
            tmp_path,
            max_batchsize=8,
            calibrate=False,
            quiet=True,
        )


def test_a_backend_returning_too_few_rows(tmp_path: Path) -> None:
    settings = LoadgenSettings(scenario="Offline", mode="accuracy")
    with pytest.raises(BackendError, match=r"returned 7 rows .* for 8 samples"):
        run_benchmark(
            settings, _Short(), Dataset(np.zeros((64, 1))), tmp_path, max_batchsize=8, quiet=True
        )


class _Staged(Dataset):
    """Counts LoadGen's load/unload calls; can fail on load."""

    def __init__(self, *args: Any, fail: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail = fail
        self.loads: list[int] = []

    def load_samples(self, indices: Any) -> None:
        if self.fail:
            raise OSError("disk gone")
        self.loads.append(len(indices))
        super().load_samples(indices)


@pytest.mark.parametrize("in_process", [False, True])
def test_dataset_hooks_are_called_and_their_errors_surface(
    tmp_path: Path, in_process: bool
) -> None:
    settings = LoadgenSettings(scenario="Offline", mode="accuracy")
    staged = _Staged(np.zeros((40, 1)), performance_count=16)
    run_benchmark(
        settings, NullBackend(), staged, tmp_path / "ok", quiet=True, in_process=in_process
    )
    if in_process:  # in a child process, the calls change the child's copy
        assert sum(staged.loads) == 40 and staged.loaded == 0  # every sample, all released
    else:
        assert staged.loads == [] and staged.loaded == 0
    with pytest.raises(BackendError, match="OSError: disk gone"):
        run_benchmark(
            settings,
            NullBackend(),
            _Staged(np.zeros((8, 1)), fail=True),
            tmp_path / "bad",
            quiet=True,
            in_process=in_process,
        )
