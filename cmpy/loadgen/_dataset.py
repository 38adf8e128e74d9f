"""The samples behind LoadGen's query sample library (QSL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cmpy._errors import UsageError
from cmpy.loadgen._optional import import_numpy

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Dataset"]


class Dataset:
    """Samples for LoadGen: ``inputs`` (one row per sample) and optional ``labels``.

    LoadGen asks the QSL to stage a set of ``performance_count`` samples in
    memory before it issues queries (:meth:`load_samples`) and to release
    them afterwards (:meth:`unload_samples`). Samples held in a numpy array
    are already in memory, so these hooks only keep count; a subclass that
    reads from disk or copies to a device overrides them.

    :param inputs: an array whose first axis is the sample index.
    :param labels: the true class of each sample, for accuracy scoring.
    :param performance_count: how many samples LoadGen may keep loaded at
        once (default: all of them).
    :param name: a name for reports.
    :raises UsageError: empty inputs, labels of another length, or a
        ``performance_count`` out of range.
    """

    def __init__(
        self,
        inputs: npt.ArrayLike,
        labels: npt.ArrayLike | None = None,
        *,
        performance_count: int | None = None,
        name: str = "dataset",
    ) -> None:
        np = import_numpy()
        self.inputs: npt.NDArray[Any] = np.asarray(inputs)
        if self.inputs.ndim == 0 or len(self.inputs) == 0:
            raise UsageError(
                f"dataset {name!r} has no samples",
                hint="pass an array whose first axis indexes the samples",
            )
        self.labels: npt.NDArray[Any] | None = None
        if labels is not None:
            self.labels = np.asarray(labels)
            if self.labels.shape[:1] != self.inputs.shape[:1]:
                raise UsageError(
                    f"dataset {name!r}: {len(self.inputs)} inputs but labels of shape "
                    f"{self.labels.shape}",
                    hint="give one label per sample, in the same order as the inputs",
                )
        count = len(self.inputs) if performance_count is None else performance_count
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= len(self.inputs)
        ):
            raise UsageError(
                f"dataset {name!r}: performance_count must be 1..{len(self.inputs)}, "
                f"not {performance_count!r}"
            )
        self.performance_count: int = count
        self.name = name
        self.loaded = 0

    def __len__(self) -> int:
        return len(self.inputs)

    def __repr__(self) -> str:
        labels = "labelled" if self.labels is not None else "unlabelled"
        return (
            f"Dataset({self.name!r}, {len(self)} samples of shape {self.inputs.shape[1:]}, "
            f"{self.inputs.dtype}, {labels})"
        )

    def load_samples(self, indices: Sequence[int]) -> None:
        """Stage ``indices`` in memory (LoadGen calls this before a run)."""
        self.loaded += len(indices)

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Release ``indices`` (LoadGen calls this after a run)."""
        self.loaded -= len(indices)
