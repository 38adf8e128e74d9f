"""Top-1 scoring of mlperf_log_accuracy.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen import score_classification

np = pytest.importorskip("numpy")


def write_log(folder: Path, rows: list[tuple[int, Any]]) -> Path:
    entries = [
        {"seq_id": n, "qsl_idx": idx, "data": np.asarray(value).tobytes().hex().upper()}
        for n, (idx, value) in enumerate(rows)
    ]
    path = folder / "mlperf_log_accuracy.json"
    path.write_text(json.dumps(entries))
    return path


def test_predicted_classes(tmp_path: Path) -> None:
    labels = np.array([3, 1, 4, 1, 5])
    write_log(
        tmp_path,
        [(0, np.int64(3)), (1, np.int64(1)), (2, np.int64(0)), (3, np.int64(1)), (4, np.int64(5))],
    )
    report = score_classification(tmp_path, labels)
    assert (report.correct, report.count, report.duplicates) == (4, 5, 0)
    assert report.top1 == pytest.approx(0.8)
    assert report.dataset_size == 5 and report.dtype == "int64"
    assert report.to_dict()["top1"] == pytest.approx(0.8)


def test_scores_take_the_argmax_and_duplicates_count_once(tmp_path: Path) -> None:
    labels = np.array([2, 0])
    logits = [np.array([0.1, 0.2, 0.7], np.float32), np.array([0.9, 0.05, 0.05], np.float32)]
    path = write_log(tmp_path, [(0, logits[0]), (1, logits[1]), (0, logits[1])])
    report = score_classification(path, labels, dtype="float32")
    assert (report.correct, report.count, report.duplicates) == (2, 2, 1)


def test_label_offset(tmp_path: Path) -> None:
    write_log(tmp_path, [(0, np.int32(8)), (1, np.int32(2))])
    report = score_classification(tmp_path, np.array([7, 1]), dtype="int32", label_offset=1)
    assert report.top1 == 1.0


def test_int32_read_as_int64_is_refused(tmp_path: Path) -> None:
    write_log(tmp_path, [(0, np.int32(8))])
    with pytest.raises(CmpyError, match="not rows of int64"):
        score_classification(tmp_path, np.array([8]), dtype="int64")


def test_empty_responses_mean_a_performance_run(tmp_path: Path) -> None:
    (tmp_path / "mlperf_log_accuracy.json").write_text(
        json.dumps([{"seq_id": 0, "qsl_idx": 0, "data": ""}])
    )
    with pytest.raises(CmpyError, match="empty responses"):
        score_classification(tmp_path, np.array([1]))


def test_no_entries(tmp_path: Path) -> None:
    (tmp_path / "mlperf_log_accuracy.json").write_text("[]")
    with pytest.raises(CmpyError, match="holds no responses"):
        score_classification(tmp_path, np.array([1]))


def test_sample_beyond_the_labels(tmp_path: Path) -> None:
    write_log(tmp_path, [(5, np.int64(1))])
    with pytest.raises(CmpyError, match="names sample 5 but there are only 2 labels"):
        score_classification(tmp_path, np.array([1, 2]))


def test_malformed_and_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the accuracy log"):
        score_classification(tmp_path, np.array([1]))
    (tmp_path / "mlperf_log_accuracy.json").write_text('[{"seq_id": 0')
    with pytest.raises(CmpyError, match="not valid JSON"):
        score_classification(tmp_path, np.array([1]))
    (tmp_path / "mlperf_log_accuracy.json").write_text('[{"seq": 0}]')
    with pytest.raises(CmpyError, match="not a LoadGen accuracy log"):
        score_classification(tmp_path, np.array([1]))
    with pytest.raises(UsageError, match="unknown numpy dtype"):
        score_classification(tmp_path, np.array([1]), dtype="nope")
