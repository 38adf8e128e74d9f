"""``app image-classification onnx``: classify images, or data set samples, with an ONNX model.

With ``--input`` it classifies the images given (one file, or a folder of
them), preprocessed as the model takes them; without, the first ``--count``
samples of the model's preprocessed data set, and scores them against their
labels. ``_resnet50`` (the default) runs ``get ml-model resnet50`` and names
the classes from ImageNet's synset words; ``_digits`` runs the embedded
digits model. It prints the top-5 classes of each input and is not cached.

The body asks for the packages it imports (numpy, onnxruntime, Pillow)
itself: ``recipes/ml_common.py`` says why.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from cmpy import Ctx, Dep, Result, UsageError, Variation, script

from .ml_common import IMAGE_SUFFIXES, local_path, need_packages
from .ml_imagenet import preprocess_image

if TYPE_CHECKING:
    import numpy.typing as npt

_NO_INPUT = {"CMPY_IMAGE_CLASSIFICATION_INPUT": ""}


def digits_from_image(path: str) -> npt.NDArray[Any]:
    """An image of a dark digit on a light ground as the digits model's 64 inputs."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        gray = image.convert("L").resize((8, 8), Image.Resampling.BOX)
    # the digits data set counts ink (0 = paper, 16 = black): invert, scale to 0..1
    ink = (255.0 - np.asarray(gray, dtype=np.float32)) / 255.0
    return ink.reshape(64)


@script(
    tags="app image-classification onnx classify",
    alias="app-image-classification-onnx",
    uid="0ac38c8e5c187953",
    variations={
        "resnet50": Variation(
            group="model",
            default=True,
            env={"CMPY_IMAGE_CLASSIFICATION_MODEL": "resnet50"},
            deps=[
                Dep("get ml-model resnet50 _onnx _fp32", name="model"),
                Dep("get dataset-aux imagenet", name="imagenet-aux"),
                Dep("get preprocessed dataset imagenet _NCHW", name="dataset", when_env=_NO_INPUT),
            ],
        ),
        "digits": Variation(
            group="model",
            env={"CMPY_IMAGE_CLASSIFICATION_MODEL": "digits"},
            deps=[
                Dep("get ml-model digits _onnx", name="model"),
                Dep("get preprocessed dataset digits _val", name="dataset", when_env=_NO_INPUT),
            ],
        ),
        "cpu": Variation(
            group="device", default=True, env={"CMPY_IMAGE_CLASSIFICATION_DEVICE": "cpu"}
        ),
        "cuda": Variation(group="device", env={"CMPY_IMAGE_CLASSIFICATION_DEVICE": "cuda"}),
    },
    inputs={
        "input": ("CMPY_IMAGE_CLASSIFICATION_INPUT", "an image, or a folder of images"),
        "count": (
            "CMPY_IMAGE_CLASSIFICATION_COUNT",
            "without --input: how many data set samples to classify (default 5)",
        ),
    },
    env={"CMPY_IMAGE_CLASSIFICATION_INPUT": "", "CMPY_IMAGE_CLASSIFICATION_COUNT": "5"},
    reads=["CMPY_HOST_PYTHON"],
)
def app_image_classification_onnx(ctx: Ctx) -> Result:
    """Classify images (or data set samples) with an ONNX model and print the top-5 classes."""
    need_packages(ctx, "numpy", "onnxruntime", *(["pillow"] if _given_input(ctx) else []))
    import numpy as np

    from cmpy.loadgen import Dataset, OnnxRuntimeBackend

    model = ctx.deps["model"]
    kind = ctx.env.get("CMPY_IMAGE_CLASSIFICATION_MODEL", "resnet50")
    offset = int(model.get("CMPY_ML_MODEL_LABEL_OFFSET") or 0)
    names, inputs, truth = _classification_inputs(ctx, kind, model)
    backend = OnnxRuntimeBackend(
        model["CMPY_ML_MODEL_FILE_WITH_PATH"],
        device=ctx.env.get("CMPY_IMAGE_CLASSIFICATION_DEVICE", "cpu"),
        input_name=model["CMPY_ML_MODEL_INPUT_NAME"],
        output_name=model["CMPY_ML_MODEL_OUTPUT_NAME"],
    )
    backend.load(Dataset(inputs, name=kind))
    try:
        scores = backend.predict(np.arange(len(inputs), dtype=np.int64))
    finally:
        backend.close()
    words = _class_words(ctx.env.get("CMPY_DATASET_AUX_SYNSET_WORDS", ""))
    results: list[dict[str, Any]] = []
    lines: list[str] = []
    for name, row, label in zip(names, scores, truth):
        top = np.argsort(row)[::-1][:5]
        best = [
            {
                "class": int(k) - offset,
                "name": _class_name(words, int(k) - offset),
                "score": float(row[k]),
            }
            for k in top
        ]
        results.append({"input": name, "label": label, "top5": best})
        known = "" if label is None else f"  (true class {label})"
        lines.append(f"{name}{known}")
        lines += [
            f"  {rank}. {b['class']:>4} {b['name']:<40.40} {b['score']:.4f}".rstrip()
            for rank, b in enumerate(best, start=1)
        ]
    if not ctx.quiet:
        print("\n".join(lines))
    first = results[0]["top5"][0]
    env = {
        "CMPY_IMAGE_CLASSIFICATION_TOP1": str(first["class"]),
        "CMPY_IMAGE_CLASSIFICATION_TOP1_NAME": first["name"],
        "CMPY_IMAGE_CLASSIFICATION_COUNT": str(len(results)),
    }
    scored = [r for r in results if r["label"] is not None]
    if scored:
        hits = sum(r["top5"][0]["class"] == r["label"] for r in scored)
        env["CMPY_IMAGE_CLASSIFICATION_ACCURACY"] = f"{hits / len(scored):.4f}"
    return Result(env=env, state={"image_classification": results})


def _given_input(ctx: Ctx) -> bool:
    return bool(ctx.env.get("CMPY_IMAGE_CLASSIFICATION_INPUT", "").strip())


def _classification_inputs(
    ctx: Ctx, kind: str, model: Result
) -> tuple[list[str], npt.NDArray[Any], list[int | None]]:
    """(names, model inputs, true classes or None) for --input, or the first data set samples."""
    import numpy as np

    given = ctx.env.get("CMPY_IMAGE_CLASSIFICATION_INPUT", "").strip()
    if given:
        path = local_path(given)
        if os.path.isdir(path):
            files = sorted(
                os.path.join(path, n)
                for n in os.listdir(path)
                if n.lower().endswith(IMAGE_SUFFIXES)
            )
        elif os.path.isfile(path):
            files = [path]
        else:
            raise UsageError(f"input={given!r}: no image or folder at {path}")
        if not files:
            raise UsageError(f"no .jpg, .jpeg or .png images in {path}")
        layout = model.get("CMPY_ML_MODEL_DATA_LAYOUT") or "NCHW"
        rows = [
            digits_from_image(f) if kind == "digits" else preprocess_image(f, layout) for f in files
        ]
        return [os.path.basename(f) for f in files], np.stack(rows), [None] * len(files)
    text = ctx.env.get("CMPY_IMAGE_CLASSIFICATION_COUNT", "5").strip()
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"count={text!r} is not a positive number of samples")
    dataset = ctx.deps["dataset"]
    data = np.load(dataset["CMPY_DATASET_PREPROCESSED_DATA_PATH"], mmap_mode="r")
    labels = np.load(dataset["CMPY_DATASET_PREPROCESSED_LABELS_PATH"])
    count = min(int(text), len(data))
    names = [f"sample {i}" for i in range(count)]
    return names, np.ascontiguousarray(data[:count]), [int(v) for v in labels[:count]]


def _class_words(path: str) -> list[str]:
    if not path:
        return []
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh]


def _class_name(words: list[str], index: int) -> str:
    if index == -1:
        return "(background)"  # class 0 of 1001-class models, before the offset
    return words[index] if 0 <= index < len(words) else ""
