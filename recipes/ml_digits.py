"""The embedded digits chain: a data set, its preprocessed form and a model, nothing downloaded.

``get dataset digits`` splits scikit-learn's bundled 8x8 digits,
``get preprocessed dataset digits`` turns them into float32 rows, and
``get ml-model digits _onnx`` trains a small classifier on the training split
and exports it to ONNX. The split and the model are fixed, so that every
machine trains the same one. This is the default of ``app mlperf inference``
and ``app image-classification onnx _digits``.

Data sets and models are cached; nothing here is a measurement. The bodies
ask for the packages they import (numpy, scikit-learn, skl2onnx,
onnxruntime) themselves: ``recipes/ml_common.py`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cmpy import Ctx, Dep, Result, Variation, script

from .ml_common import need_packages, onnx_session

if TYPE_CHECKING:
    import numpy.typing as npt

# The digits split and model: fixed so that every machine trains the same one.
DIGITS_VAL_SHARE = 0.25
DIGITS_SEED = 0
DIGITS_HIDDEN = 64
# the most epochs; training stops earlier once the loss stops improving (about 180)
DIGITS_EPOCHS = 1000
DIGITS_OPSET = {
    "": 17,
    "ai.onnx.ml": 3,
}  # onnxruntime 1.17, the oldest the mlperf extra allows, runs it


def _split_variations(recipe: str) -> dict[str, Variation]:
    return {
        "train": Variation(
            group="split",
            env={"CMPY_DATASET_PREPROCESSED_SPLIT": "train"},
            deps=[Dep(f"{recipe} _train", name="original")],
            help="the training split",
        ),
        "val": Variation(
            group="split",
            default=True,
            env={"CMPY_DATASET_PREPROCESSED_SPLIT": "val"},
            deps=[Dep(f"{recipe} _val", name="original")],
            help="the held-out validation split",
        ),
    }


@script(
    tags="get dataset digits original image-classification",
    alias="get-dataset-digits",
    uid="5f1ed965a68942f5",
    cache=True,
    priority=1,  # "get dataset digits" means this one, not the preprocessed one
    variations={
        "train": Variation(group="split", env={"CMPY_DATASET_SPLIT": "train"}, help="75%"),
        "val": Variation(
            group="split", default=True, env={"CMPY_DATASET_SPLIT": "val"}, help="25%, held out"
        ),
    },
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_DATASET_*"],
)
def get_dataset_digits(ctx: Ctx) -> Result:
    """scikit-learn's bundled 8x8 handwritten digits, one split, as .npy (images 0..16, labels)."""
    versions = need_packages(ctx, "numpy", "scikit-learn")
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    split = ctx.env.get("CMPY_DATASET_SPLIT", "val")
    bunch = load_digits()
    labels = bunch.target.astype(np.int64)
    train, val = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_VAL_SHARE,
        random_state=DIGITS_SEED,
        stratify=labels,
    )
    chosen = np.sort(train if split == "train" else val)
    images = bunch.images[chosen].astype(np.uint8)
    np.save(ctx.path / "images.npy", images)
    np.save(ctx.path / "labels.npy", labels[chosen])
    return Result(
        env={
            "CMPY_DATASET_NAME": "digits",
            "CMPY_DATASET_SPLIT": split,
            "CMPY_DATASET_PATH": ctx.folder,
            "CMPY_DATASET_DATA_PATH": str(ctx.path / "images.npy"),
            "CMPY_DATASET_LABELS_PATH": str(ctx.path / "labels.npy"),
            "CMPY_DATASET_COUNT": str(len(chosen)),
            "CMPY_DATASET_SAMPLE_SHAPE": "8,8",
            "CMPY_DATASET_DTYPE": "uint8",
            "CMPY_DATASET_CLASSES": "10",
            "CMPY_DATASET_SOURCE": f"scikit-learn {versions['scikit-learn']} load_digits",
        }
    )


@script(
    tags="get preprocessed dataset digits image-classification",
    alias="get-preprocessed-dataset-digits",
    uid="5185917d5b45e879",
    cache=True,
    variations=_split_variations("get dataset digits original"),
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_DATASET_PREPROCESSED_*"],
)
def get_preprocessed_dataset_digits(ctx: Ctx) -> Result:
    """The digits as float32 rows of 64 values in 0..1 (ink / 16), with their labels."""
    need_packages(ctx, "numpy")
    import numpy as np

    original = ctx.deps["original"]
    images = np.load(original["CMPY_DATASET_DATA_PATH"])
    data = (images.reshape(len(images), -1) / np.float32(16)).astype(np.float32)
    np.save(ctx.path / "data.npy", data)
    np.save(ctx.path / "labels.npy", np.load(original["CMPY_DATASET_LABELS_PATH"]))
    return Result(
        env={
            "CMPY_DATASET_PREPROCESSED_NAME": "digits",
            "CMPY_DATASET_PREPROCESSED_SPLIT": original["CMPY_DATASET_SPLIT"],
            "CMPY_DATASET_PREPROCESSED_PATH": ctx.folder,
            "CMPY_DATASET_PREPROCESSED_DATA_PATH": str(ctx.path / "data.npy"),
            "CMPY_DATASET_PREPROCESSED_LABELS_PATH": str(ctx.path / "labels.npy"),
            "CMPY_DATASET_PREPROCESSED_COUNT": str(len(data)),
            "CMPY_DATASET_PREPROCESSED_SHAPE": "64",
            "CMPY_DATASET_PREPROCESSED_DTYPE": "float32",
            "CMPY_DATASET_PREPROCESSED_LAYOUT": "NC",
        }
    )


@script(
    tags="get ml-model digits image-classification",
    alias="get-ml-model-digits",
    uid="38953e4509519c61",
    cache=True,
    deps=[
        Dep("get preprocessed dataset digits _train", name="train"),
        Dep("get preprocessed dataset digits _val", name="val"),
    ],
    variations={
        "onnx": Variation(group="framework", default=True, help="exported with skl2onnx"),
        "fp32": Variation(group="precision", default=True, help="float32 weights and inputs"),
    },
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_ML_MODEL_*"],
)
def get_ml_model_digits(ctx: Ctx) -> Result:
    """Train a small classifier on the digits' training split and export it to ONNX."""
    import time
    import warnings

    versions = need_packages(ctx, "numpy", "scikit-learn", "skl2onnx", "onnxruntime")
    import numpy as np
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    def split(name: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        found = ctx.deps[name]
        return (
            np.load(found["CMPY_DATASET_PREPROCESSED_DATA_PATH"]),
            np.load(found["CMPY_DATASET_PREPROCESSED_LABELS_PATH"]),
        )

    (x_train, y_train), (x_val, y_val) = split("train"), split("val")
    # Standardised inputs let a one-layer MLP converge in under 200 epochs;
    # it reaches about 97-98% on the held-out split, where logistic
    # regression stays near 96.7%. The scaler is part of the exported graph.
    scaler = StandardScaler().fit(x_train)
    mlp = MLPClassifier(
        hidden_layer_sizes=(DIGITS_HIDDEN,),
        max_iter=DIGITS_EPOCHS,
        # one generator for the whole training, as fit() would use, rather
        # than the same shuffle in every epoch from a seed given to each call
        random_state=np.random.RandomState(DIGITS_SEED),
    )
    ctx.log(
        f"training MLPClassifier({DIGITS_HIDDEN},) on {len(y_train)} samples "
        f"(at most {DIGITS_EPOCHS} epochs)"
    )
    began = time.perf_counter()
    # Library warnings (convergence, deprecations) are news for the log, not
    # failures of the recipe. (The filter is process-wide: a warning another
    # body raises meanwhile is logged here too, which is harmless.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        epochs = fit_in_epochs(mlp, scaler.transform(x_train), y_train, lambda: ctx.cancelled)
        ctx.log(f"trained {epochs} epochs in {time.perf_counter() - began:.2f} s")
        model = Pipeline([("scale", scaler), ("mlp", mlp)])
        exported = convert_sklearn(
            model,
            initial_types=[("input", FloatTensorType([None, x_train.shape[1]]))],
            options={MLPClassifier: {"zipmap": False}},
            target_opset=DIGITS_OPSET,
        )
    for message in dict.fromkeys(str(w.message) for w in caught):
        ctx.log(f"warning while training: {message}")
    path = ctx.path / "digits.onnx"
    path.write_bytes(exported.SerializeToString())

    session = onnx_session(str(path), "the exported digits model")
    predicted = session.run(["label"], {"input": x_val.astype(np.float32)})[0]
    accuracy = float((predicted == y_val).mean())
    ctx.log(f"held-out top-1 {accuracy:.4f} on {len(y_val)} samples (onnxruntime)")
    trained = (
        f"scikit-learn {versions['scikit-learn']}: StandardScaler + "
        f"MLPClassifier({DIGITS_HIDDEN},), seed {DIGITS_SEED}, {len(y_train)} samples, "
        f"{epochs} epochs"
    )
    return Result(
        env={
            "CMPY_ML_MODEL_NAME": "digits",
            "CMPY_ML_MODEL_FILE_WITH_PATH": str(path),
            "CMPY_ML_MODEL_FILE": path.name,
            "CMPY_ML_MODEL_PATH": ctx.folder,
            "CMPY_ML_MODEL_FRAMEWORK": "onnx",
            "CMPY_ML_MODEL_PRECISION": "fp32",
            "CMPY_ML_MODEL_ONNX_OPSET": str(DIGITS_OPSET[""]),
            "CMPY_ML_MODEL_INPUT_NAME": "input",
            "CMPY_ML_MODEL_INPUT_SHAPE": f"-1,{x_train.shape[1]}",
            "CMPY_ML_MODEL_INPUT_DTYPE": "float32",
            "CMPY_ML_MODEL_DATA_LAYOUT": "NC",
            "CMPY_ML_MODEL_OUTPUT_NAME": "probabilities",
            "CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME": "label",
            "CMPY_ML_MODEL_CLASSES": "10",
            "CMPY_ML_MODEL_LABEL_OFFSET": "0",
            "CMPY_ML_MODEL_DATASET": "digits",
            "CMPY_ML_MODEL_ACCURACY": f"{accuracy:.4f}",
            "CMPY_ML_MODEL_TRAINED_WITH": trained,
        }
    )


def fit_in_epochs(
    mlp: Any, x: npt.NDArray[Any], y: npt.NDArray[Any], cancelled: Callable[[], bool]
) -> int:
    """Train ``mlp`` one epoch at a time (``partial_fit``) as ``fit`` would; the epochs run.

    Between epochs it stops when asked: Ctrl-C, SIGTERM or SIGHUP in the main
    thread (where it only records itself meanwhile: scikit-learn swallows a
    KeyboardInterrupt raised inside ``fit`` and returns a half-trained
    model), ``cancelled()`` in a worker thread. It ends as ``fit`` does when
    the training loss has not improved by ``tol`` for ``n_iter_no_change``
    epochs in a row.

    :raises cmpy.Interrupted: stopped; nothing was trained to keep.
    """
    import numpy as np

    from cmpy.loadgen import Interruptible

    classes = np.unique(y)
    best, stale, epochs = float("inf"), 0, 0
    what, note = "training the digits model", "nothing was cached"
    with Interruptible(cancelled) as stop:
        for epochs in range(1, mlp.max_iter + 1):  # noqa: B007 (the count is returned)
            stop.check(what, note=note)
            mlp.partial_fit(x, y, classes=classes)
            loss = float(mlp.loss_curve_[-1])
            stale = stale + 1 if loss > best - mlp.tol else 0
            best = min(best, loss)
            if stale > mlp.n_iter_no_change:
                break
        stop.check(what, note=note)
    return epochs
