"""What the machine-learning recipes share: packages in this process, path inputs, ONNX.

The machine-learning recipes live in one module per family: ``ml_digits``
(the embedded default), ``ml_resnet50``, ``ml_imagenet``, ``ml_classify``,
and ``mlperf`` with ``mlperf_search`` and ``mlperf_submission``. This module
defines no recipe; it holds what several of them use.

Why the packages are asked for in the bodies
--------------------------------------------
These bodies import numpy, scikit-learn, onnxruntime or Pillow in-process, so
the packages must be installed in the interpreter running cmpy, not in
whichever one ``get python3`` would find. Each body asks ``get generic-python-lib``
for what it imports with the ``python`` dep below it pinned to ``get python3
_current`` (the interpreter running cmpy): pip runs only when a package is
missing, and the dynamic deps are recorded, so a cached data set or model is
re-checked against them. Asked from the body, the pin replaces a caller's
``--adr.python...`` for these deps; a static dep would merge it in, and a
``_venv.NAME`` from above would install the packages where this process
cannot import them. These recipes also read ``CMPY_HOST_PYTHON``, so that two
environments sharing one cache keep an entry each rather than replacing each
other's.
"""

from __future__ import annotations

import os
from typing import Any

from cmpy import CmpyError, Ctx, UsageError

# replaces any caller's adr for "python": what is installed must be what this process imports
HOST_PYTHON_ADR: dict[str, dict[str, Any]] = {"python": {"tags": "_current"}}

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

# MLPerf's reference preprocessing for ResNet50 (pre_process_vgg): the shorter
# side to 224 / 0.875 = 256 pixels, keeping the aspect ratio, a centre crop of
# 224, then the per-channel means subtracted from the 0..255 RGB values.
RESIZE_TO = 256
CROP_TO = 224
RGB_MEANS = (123.68, 116.78, 103.94)


def need_packages(ctx: Ctx, *shortcuts: str) -> dict[str, str]:
    """Make the packages importable in this process (pip only when missing); their versions."""
    return {
        name: ctx.run_sync(f"get generic-python-lib _{name}", adr=HOST_PYTHON_ADR).get(
            "CMPY_PYTHON_PACKAGE_VERSION", ""
        )
        or ""
        for name in shortcuts
    }


def local_path(text: str) -> str:
    """A path a user typed, absolute: ``~`` expanded, relative to the working folder."""
    return os.path.abspath(os.path.expanduser(text.strip()))


def keyed_path(name: str, text: str) -> str:
    """A path input of a cached recipe: absolute, since its text is what the key holds.

    :raises UsageError: the path is relative.
    """
    path = text.strip()
    if not os.path.isabs(path):
        raise UsageError(
            f"{name}={text!r} is a relative path",
            hint=f"give the absolute path, such as {local_path(path)}",
        )
    return os.path.normpath(path)


def onnx_session(path: str, what: str) -> Any:
    """An onnxruntime CPU session for ``path``, or one clear error if it does not load.

    :raises CmpyError: onnxruntime cannot load the file.
    """
    import onnxruntime as ort

    try:
        return ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped family
        raise CmpyError(
            f"{what} at {path} is not a model onnxruntime can load: {str(exc).strip()[:300]}",
            hint="the file is corrupt or not ONNX: check the --url/--md5/--input given, "
            "or download it again",
        ) from None


def dims(shape: Any) -> str:
    """An ONNX shape as text: ``[None, 3, 224, 224]`` -> ``-1,3,224,224`` (-1: any size)."""
    return ",".join(str(d) if isinstance(d, int) and d > 0 else "-1" for d in shape)
