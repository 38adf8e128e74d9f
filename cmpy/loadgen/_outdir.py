"""A run's output folder: the files a run leaves there, cleared and written whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["LOG_FILES", "RESULTS_FILE", "clear", "missing_folders", "write_json"]

RESULTS_FILE = "results.json"
# what LoadGen writes into a run's folder
LOG_FILES = (
    "mlperf_log_summary.txt",
    "mlperf_log_detail.txt",
    "mlperf_log_accuracy.json",
    "mlperf_log_trace.json",
)


def missing_folders(out: Path) -> tuple[Path, ...]:
    """The folders of ``out``'s path that do not exist yet, innermost first."""
    missing: list[Path] = []
    folder = out.absolute()
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return tuple(missing)


def clear(out: Path, *, remove_folders: tuple[Path, ...] = ()) -> bool:
    """Remove LoadGen's logs and the results file from ``out``; whether there were any.

    ``remove_folders`` (innermost first) go too, as long as they are empty.
    """
    removed = False
    for name in (*LOG_FILES, RESULTS_FILE):
        try:
            (out / name).unlink()
            removed = True
        except FileNotFoundError:
            pass
    for folder in remove_folders:
        try:
            folder.rmdir()
        except OSError:  # not empty: someone else's files
            break
    return removed


def write_json(path: Path, document: Any) -> None:
    """Write ``path`` whole or not at all (a reader never sees half of it)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
