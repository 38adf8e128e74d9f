"""Scoring a classification run from LoadGen's ``mlperf_log_accuracy.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen._optional import import_numpy

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["AccuracyReport", "score_classification"]

ACCURACY_LOG = "mlperf_log_accuracy.json"


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    """Top-1 accuracy over the distinct samples of an accuracy log.

    ``count`` samples were scored (each ``qsl_idx`` once), ``duplicates``
    log entries repeated a sample already scored (MultiStream pads queries
    that way), ``dataset_size`` is how many labels there were.
    """

    top1: float
    correct: int
    count: int
    duplicates: int
    dataset_size: int
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)


def score_classification(
    accuracy_log: str | Path, labels: npt.ArrayLike, *, dtype: str = "int64", label_offset: int = 0
) -> AccuracyReport:
    """Top-1 accuracy of the responses in an accuracy log.

    Each response is decoded from hex as ``dtype``: one value is the
    predicted class, several are scores and the largest wins.

    :param accuracy_log: ``mlperf_log_accuracy.json`` or the folder holding it.
    :param labels: the true class of each sample, indexed by ``qsl_idx``.
    :param dtype: the numpy type the SUT wrote its responses in.
    :param label_offset: subtracted from each prediction (for models whose
        class 0 is "background", pass 1).
    :raises UsageError: the log cannot be read.
    :raises CmpyError: the log is malformed, empty, has empty responses (a
        performance run), or names samples the labels do not have.
    """
    np = import_numpy()
    source = Path(accuracy_log)
    if source.is_dir():
        source = source / ACCURACY_LOG
    try:
        entries = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot read the accuracy log {str(source)!r}: {exc.strerror or exc}",
            hint="run LoadGen in accuracy mode first",
        ) from None
    except json.JSONDecodeError as exc:
        raise CmpyError(
            f"{str(source)!r} is not valid JSON ({exc.msg}, line {exc.lineno}); "
            "was the run cut short?"
        ) from None
    try:
        item_size = np.dtype(dtype).itemsize
    except TypeError:
        raise UsageError(f"unknown numpy dtype {dtype!r}") from None
    truth = np.asarray(labels)
    first: dict[int, str] = {}
    duplicates = 0
    try:
        for entry in entries:
            index = int(entry["qsl_idx"])
            if index in first:
                duplicates += 1
            else:
                first[index] = entry["data"]
    except (TypeError, KeyError, ValueError):
        raise CmpyError(
            f"{str(source)!r} is not a LoadGen accuracy log "
            "(expected a list of {seq_id, qsl_idx, data})"
        ) from None
    if not first:
        raise CmpyError(
            f"{str(source)!r} holds no responses",
            hint="was the run in performance mode? only accuracy mode logs every sample",
        )
    indices = np.fromiter(first, dtype=np.int64, count=len(first))
    if indices.min() < 0 or indices.max() >= len(truth):
        raise CmpyError(
            f"the accuracy log names sample {int(indices.max())} but there are only "
            f"{len(truth)} labels",
            hint="score against the dataset that was run",
        )
    sizes = {len(text) for text in first.values()}
    if sizes == {0}:
        raise CmpyError(
            f"{str(source)!r} has empty responses: nothing to score",
            hint="the SUT must answer with its outputs in accuracy mode",
        )
    row_hex = sizes.pop() if len(sizes) == 1 else -1
    if row_hex <= 0 or row_hex % (2 * item_size):
        raise CmpyError(
            f"responses in {str(source)!r} are not rows of {dtype} of one length",
            hint="pass the dtype the SUT wrote (results.json has it as harness.output_dtype)",
        )
    raw = bytes.fromhex("".join(first.values()))
    rows = np.frombuffer(raw, dtype=dtype).reshape(len(first), -1)
    predicted = rows[:, 0] if rows.shape[1] == 1 else rows.argmax(axis=1)
    predicted = predicted.astype(np.int64) - label_offset
    correct = int((predicted == truth[indices].astype(np.int64)).sum())
    return AccuracyReport(
        top1=correct / len(first),
        correct=correct,
        count=len(first),
        duplicates=duplicates,
        dataset_size=len(truth),
        dtype=str(np.dtype(dtype)),
    )
