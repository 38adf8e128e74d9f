"""The heavy optional packages, imported only when a run needs them.

``import cmpy.loadgen`` stays cheap (no numpy, onnxruntime or LoadGen): a
command that only parses a log or a user.conf should not pay for them, and a
machine without them gets an error that says what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from cmpy._errors import ToolNotFound

__all__ = ["import_loadgen", "import_numpy", "import_onnxruntime"]

_PIP_NAMES = {
    "mlperf_loadgen": "mlcommons-loadgen",
    "numpy": "numpy",
    "onnxruntime": "onnxruntime (or onnxruntime-gpu)",
}


def _load(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ToolNotFound(
            f"the Python module {module!r} ({exc})",
            hint=f"pip install {_PIP_NAMES[module]}   (or: pip install 'cmpy-automation[mlperf]')",
        ) from None


def import_loadgen() -> ModuleType:
    """The ``mlperf_loadgen`` extension module.

    :raises ToolNotFound: mlcommons-loadgen is not installed.
    """
    return _load("mlperf_loadgen")


def import_numpy() -> ModuleType:
    """The ``numpy`` module.

    :raises ToolNotFound: numpy is not installed.
    """
    return _load("numpy")


def import_onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module.

    :raises ToolNotFound: onnxruntime is not installed.
    """
    return _load("onnxruntime")
