"""Backends: what turns a batch of sample indices into a batch of outputs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cmpy._errors import CmpyError, ToolNotFound, UsageError
from cmpy.loadgen._optional import import_numpy, import_onnxruntime

if TYPE_CHECKING:
    import numpy.typing as npt

    from cmpy.loadgen._dataset import Dataset

__all__ = ["Backend", "BackendError", "NullBackend", "OnnxRuntimeBackend"]


class BackendError(CmpyError):
    """A backend that cannot load its model or failed to predict."""

    def __init__(self, backend: str, problem: str, *, hint: str | None = None) -> None:
        self.backend = backend
        self.problem = problem
        super().__init__(f"backend {backend}: {problem}", hint=hint)


@runtime_checkable
class Backend(Protocol):
    """What the harness drives.

    ``load(dataset)`` prepares to answer for the samples of ``dataset``
    (open the model, stage inputs); ``predict(indices)`` returns one output
    row per index, as a numpy array, and may be called from several threads
    at once. A backend may also define ``close()`` (called when a run ends)
    and ``max_threads`` (how many concurrent ``predict`` calls are worth
    making: 1 for one that never releases the GIL).
    """

    @property
    def name(self) -> str:
        """A short name for reports."""
        ...

    def load(self, dataset: Dataset) -> None:
        """Get ready to predict for the samples of ``dataset``."""
        ...

    def predict(self, indices: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The outputs for ``indices`` (int64 sample indices), one row each."""
        ...


class NullBackend:
    """A backend that answers at once with class 0: measures the harness alone."""

    name = "null"
    # It holds the GIL throughout, so a second worker would only contend
    # for it (Server at 300 k queries/s is VALID with one, not with two).
    max_threads = 1

    def __init__(self) -> None:
        self._zeros: npt.NDArray[Any] | None = None

    def load(self, dataset: Dataset) -> None:
        """Allocate the shared answer buffer."""
        np = import_numpy()
        self._zeros = np.zeros(max(4096, len(dataset)), dtype=np.int64)

    def predict(self, indices: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Class 0 for every index (a read-only view, so no allocation)."""
        zeros = self._zeros
        if zeros is None:
            raise BackendError(self.name, "predict() before load()")
        if len(indices) > len(zeros):
            np = import_numpy()
            zeros = self._zeros = np.zeros(len(indices), dtype=np.int64)
        return zeros[: len(indices)]

    def close(self) -> None:
        """Drop the buffer."""
        self._zeros = None


_DEVICES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


class OnnxRuntimeBackend:
    """An ONNX model run by onnxruntime.

    :param model_path: the ``.onnx`` file.
    :param device: ``"cpu"`` or ``"cuda"`` (picks the execution provider).
    :param providers: explicit onnxruntime providers, overriding ``device``.
    :param threads: onnxruntime's intra-op threads per call (default: its own).
    :param input_name: the model input fed with the samples (default: the first).
    :param output_name: the model output returned (default: the first).
    :raises UsageError: an unknown device.
    :raises BackendError: the model file does not exist.
    :raises ToolNotFound: onnxruntime, or the provider the device needs, is
        not installed.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "cpu",
        providers: list[str] | None = None,
        threads: int | None = None,
        input_name: str | None = None,
        output_name: str | None = None,
    ) -> None:
        if device not in _DEVICES:
            raise UsageError(
                f"unknown device {device!r} for onnxruntime",
                hint="use device='cpu' or device='cuda'",
            )
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise UsageError(f"threads must be a positive integer, not {threads!r}")
        self.model_path = Path(model_path)
        self.device = device
        self.name = f"onnxruntime-{device}"
        if not self.model_path.is_file():
            raise BackendError(
                self.name,
                f"model file {str(self.model_path)!r} does not exist",
                hint="check the path, or fetch the model first",
            )
        ort = import_onnxruntime()
        available = list(ort.get_available_providers())
        if providers is None:
            providers = [_DEVICES[device]] + (["CPUExecutionProvider"] if device == "cuda" else [])
        missing = [p for p in providers if p not in available]
        if missing:
            gpu = "install onnxruntime-gpu with a matching CUDA, or " if device == "cuda" else ""
            raise ToolNotFound(
                f"onnxruntime {ort.__version__} execution provider {missing[0]}",
                searched=available,
                hint=f"{gpu}use one of the available providers: {', '.join(available)}",
            )
        self.providers = list(providers)
        self.threads = threads
        self.input_name = input_name
        self.output_name = output_name
        self._session: Any = None
        self._inputs: npt.NDArray[Any] | None = None
        self._input_name = ""
        self._output_names: list[str] = []

    def load(self, dataset: Dataset) -> None:
        """Open the model and stage the dataset's inputs in the model's input type.

        :raises BackendError: the model is corrupt, CUDA did not start, or
            the model rejects the dataset's samples.
        :raises UsageError: ``input_name``/``output_name`` is not in the model.
        """
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        # One graph thread: the harness already runs batches concurrently.
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=self.providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped family
            raise BackendError(
                self.name,
                f"cannot load {str(self.model_path)!r}: {_ort_message(exc)}",
                hint="the file may be truncated or not an ONNX model; download it again",
            ) from None
        if self.device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
            raise BackendError(
                self.name,
                "the CUDA execution provider did not start "
                f"(session runs on {', '.join(session.get_providers())})",
                hint="check the GPU driver and CUDA/cuDNN libraries, or use device='cpu'",
            )
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        input_name = self.input_name or next(iter(inputs))
        if input_name not in inputs:
            raise UsageError(
                f"model {self.model_path.name} has no input {input_name!r}",
                hint="its inputs are: " + ", ".join(inputs),
            )
        output_name = self.output_name or outputs[0]
        if output_name not in outputs:
            raise UsageError(
                f"model {self.model_path.name} has no output {output_name!r}",
                hint="its outputs are: " + ", ".join(outputs),
            )
        np = import_numpy()
        wanted = _ORT_TYPES.get(inputs[input_name].type)
        staged = dataset.inputs
        if wanted is not None and staged.dtype != np.dtype(wanted):
            # Convert once here rather than on every batch of the run.
            staged = staged.astype(wanted)
        self._session, self._inputs = session, np.ascontiguousarray(staged)
        self._input_name, self._output_names = input_name, [output_name]
        try:
            self.predict(np.zeros(1, dtype=np.int64))
        except Exception as exc:
            self.close()
            raise BackendError(
                self.name,
                f"model rejects the samples of {dataset.name!r} "
                f"(shape {dataset.inputs.shape[1:]}, {dataset.inputs.dtype}): {_ort_message(exc)}",
                hint=f"input {input_name!r} expects {inputs[input_name].type} of shape "
                f"{inputs[input_name].shape}",
            ) from None

    def predict(self, indices: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Run the model on the samples at ``indices``; onnxruntime frees the GIL meanwhile."""
        if self._session is None or self._inputs is None:
            raise BackendError(self.name, "predict() before load()")
        batch = self._inputs[indices]
        result: npt.NDArray[Any] = self._session.run(self._output_names, {self._input_name: batch})[
            0
        ]
        return result

    def close(self) -> None:
        """Release the session and the staged inputs."""
        self._session = None
        self._inputs = None


def _ort_message(exc: BaseException) -> str:
    # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from x failed:..." -> the tail.
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", str(exc)).strip()
    return text or type(exc).__name__
