"""cmpy: portable, cached automation recipes in Python, in the spirit of MLCommons CM.

A recipe is a Python function decorated with :func:`script`, found by tags,
specialised by variations, chained through dependencies, and cached under a
hash of everything that went into it::

    from cmpy import run
    r = run("detect os")
    print(r["CMPY_HOST_OS_NAME"], r.cached)
"""

from __future__ import annotations

from . import _builtin
from ._api import arun, find, run
from ._ctx import Ctx
from ._errors import (
    AmbiguousQuery,
    ArchiveError,
    ChecksumMismatch,
    CmpyError,
    CommandFailed,
    DependencyCycle,
    DownloadError,
    Interrupted,
    QuerySyntaxError,
    RecipeDefinitionError,
    RecipeFailed,
    RecipeNotFound,
    ToolNotFound,
    UsageError,
    VariationError,
    VersionConflict,
)
from ._model import Dep, Input, Variation, script
from ._result import Result
from ._shell import Completed

__version__ = "0.1.0"

__all__ = [
    "AmbiguousQuery",
    "ArchiveError",
    "ChecksumMismatch",
    "CmpyError",
    "CommandFailed",
    "Completed",
    "Ctx",
    "Dep",
    "DependencyCycle",
    "DownloadError",
    "Input",
    "Interrupted",
    "QuerySyntaxError",
    "RecipeDefinitionError",
    "RecipeFailed",
    "RecipeNotFound",
    "Result",
    "ToolNotFound",
    "UsageError",
    "Variation",
    "VariationError",
    "VersionConflict",
    "__version__",
    "arun",
    "find",
    "run",
    "script",
]

# the built-in recipes are cmpy.recipes, in a wheel and in a source checkout alike
_builtin.install(__path__[0])
