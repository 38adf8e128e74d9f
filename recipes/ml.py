"""Machine-learning recipes: data sets, models, and image classification with onnxruntime.

The embedded default needs nothing downloaded: ``get dataset digits`` splits
scikit-learn's bundled 8x8 digits, ``get preprocessed dataset digits`` turns
them into float32 rows, and ``get ml-model digits _onnx`` trains a small
classifier on the training split and exports it to ONNX. The real ones come
from their published URLs with their checksums (``get ml-model resnet50``,
``get dataset imagenet``, ``get dataset-aux imagenet``), through the
``download file`` and ``download-and-extract`` recipes; ``--url``/``--md5``
point them at a mirror or a stand-in, and ``--input`` at a local copy, which
is used where it lies (a folder) or extracted from (an archive), trusted as
given: the checksums guard downloads.

Data sets and models are cached; nothing here is a measurement.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cmpy import CmpyError, Ctx, Dep, Input, Result, UsageError, Variation, script

if TYPE_CHECKING:
    import numpy.typing as npt

# The digits split and model: fixed so that every machine trains the same one.
DIGITS_VAL_SHARE = 0.25
DIGITS_SEED = 0
DIGITS_HIDDEN = 64
DIGITS_OPSET = {
    "": 17,
    "ai.onnx.ml": 3,
}  # onnxruntime 1.17, the oldest the mlperf extra allows, runs it

IMAGENET_500_URL = "http://cKnowledge.org/ai/data/ILSVRC2012_img_val_500.tar"
IMAGENET_500_MD5 = "8627befdd8c2bcf305729020e9db354e"
# Behind image-net.org's login: no public URL. Named so that a site's
# CMPY_DOWNLOAD_MIRROR / CMPY_DOWNLOAD_URL_MAP can rewrite it.
IMAGENET_FULL_URL = "https://image-net.org/data/ILSVRC/2012/ILSVRC2012_img_val.tar"
IMAGENET_FULL_MD5 = "29b22e2961454d5413ddabcf34fc5622"
IMAGENET_COUNTS = {"500": 500, "full": 50_000}
IMAGENET_AUX_URL = "http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz"
IMAGENET_AUX_MD5 = "f963098ea0e785a968ca1eb634003a90"
_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

# MLPerf's reference preprocessing for ResNet50 (pre_process_vgg): the shorter
# side to 224 / 0.875 = 256 pixels, keeping the aspect ratio, a centre crop of
# 224, then the per-channel means subtracted from the 0..255 RGB values.
RESIZE_TO = 256
CROP_TO = 224
RGB_MEANS = (123.68, 116.78, 103.94)


def need_packages(ctx: Ctx, *shortcuts: str) -> dict[str, str]:
    """Make the packages importable in this process (pip only when missing); their versions."""
    # replaces any caller's adr for "python": what is installed must be what this process imports
    pin = {"python": {"tags": "_current"}}
    return {
        name: ctx.run_sync(f"get generic-python-lib _{name}", adr=pin).get(
            "CMPY_PYTHON_PACKAGE_VERSION", ""
        )
        or ""
        for name in shortcuts
    }


def _local_path(text: str) -> str:
    return os.path.abspath(os.path.expanduser(text.strip()))


def _keyed_path(name: str, text: str) -> str:
    """A path input of a cached recipe: absolute, since its text is what the key holds."""
    path = text.strip()
    if not os.path.isabs(path):
        raise UsageError(
            f"{name}={text!r} is a relative path",
            hint=f"give the absolute path, such as {_local_path(path)}",
        )
    return os.path.normpath(path)


def _onnx_session(path: str, what: str) -> Any:
    """An onnxruntime CPU session for ``path``, or one clear error if it does not load."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped family
        raise CmpyError(
            f"{what} at {path} is not a model onnxruntime can load: {str(exc).strip()[:300]}",
            hint="the file is corrupt or not ONNX: check the --url/--md5/--input given, "
            "or download it again",
        ) from None


def _dims(shape: Any) -> str:
    """An ONNX shape as text: ``[None, 3, 224, 224]`` -> ``-1,3,224,224`` (-1: any size)."""
    return ",".join(str(d) if isinstance(d, int) and d > 0 else "-1" for d in shape)


# -- digits ---------------------------------------------------------------------


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
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "mlp",
                MLPClassifier(
                    hidden_layer_sizes=(DIGITS_HIDDEN,), max_iter=1000, random_state=DIGITS_SEED
                ),
            ),
        ]
    )
    # Library warnings (convergence, deprecations) are news for the log, not
    # failures of the recipe. (The filter is process-wide: a warning another
    # body raises meanwhile is logged here too, which is harmless.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x_train, y_train)
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

    session = _onnx_session(str(path), "the exported digits model")
    predicted = session.run(["label"], {"input": x_val.astype(np.float32)})[0]
    accuracy = float((predicted == y_val).mean())
    ctx.log(f"held-out top-1 {accuracy:.4f} on {len(y_val)} samples (onnxruntime)")
    trained = (
        f"scikit-learn {versions['scikit-learn']}: StandardScaler + "
        f"MLPClassifier({DIGITS_HIDDEN},), seed {DIGITS_SEED}, {len(y_train)} samples"
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


# -- resnet50 ---------------------------------------------------------------------


class Published(NamedTuple):
    """A published model file and what a backend must know to run it."""

    url: str
    md5: str
    input_name: str
    input_shape: str
    layout: str
    output_name: str
    argmax_name: str
    classes: int
    preprocessing: str


_MLPERF_MEANS = "mlperf-resnet50: RGB 0..255 minus means 123.68,116.78,103.94"
_TORCHVISION = "torchvision: RGB 0..1, minus means 0.485,0.456,0.406, over stds 0.229,0.224,0.225"
# (framework, precision, ONNX opset or "") -> the file. TensorFlow's and the
# ONNX graphs have 1001 classes (0 is "background"); torchvision's have 1000.
RESNET50: dict[tuple[str, str, str], Published] = {
    ("onnx", "fp32", "11"): Published(
        "https://zenodo.org/record/4735647/files/resnet50_v1.onnx",
        "f6a4da60cd5f084d97efc2c1ddb10beb",
        "input_tensor:0", "-1,3,224,224", "NCHW", "softmax_tensor:0", "ArgMax:0", 1001,
        _MLPERF_MEANS,
    ),
    ("onnx", "fp32", "8"): Published(
        "https://zenodo.org/record/2592612/files/resnet50_v1.onnx",
        "a638cf028b5870da29e09ccc2f7182e7",
        "input_tensor:0", "-1,3,224,224", "NCHW", "softmax_tensor:0", "ArgMax:0", 1001,
        _MLPERF_MEANS,
    ),
    ("pytorch", "fp32", ""): Published(
        "https://zenodo.org/record/4588417/files/resnet50-19c8e357.pth",
        "9e9c86b324d80e65229fab49b8d9a8e8",
        "input", "-1,3,224,224", "NCHW", "output", "", 1000, _TORCHVISION,
    ),
    ("pytorch", "int8", ""): Published(
        "https://zenodo.org/record/4589637/files/resnet50_INT8bit_quantized.pt",
        "6893ea9769b0afce65bb0ddf002f4438",
        "input", "-1,3,224,224", "NCHW", "output", "", 1000, _TORCHVISION,
    ),
    ("tensorflow", "fp32", ""): Published(
        "https://zenodo.org/record/2535873/files/resnet50_v1.pb",
        "7b94a2da05dd30f6c0af23a46bc08886",
        "input_tensor:0", "-1,224,224,3", "NHWC", "softmax_tensor:0", "ArgMax:0", 1001,
        _MLPERF_MEANS,
    ),
}  # fmt: skip


def _published_list() -> str:
    return ", ".join(
        f"_{fw} _{precision}" + (f" _opset-{opset}" if opset else "")
        for fw, precision, opset in RESNET50
    )


@script(
    tags="get ml-model resnet50 image-classification",
    alias="get-ml-model-resnet50",
    uid="10dc2f0e2b494d5d",
    cache=True,
    variations={
        "onnx": Variation(group="framework", default=True, env={"CMPY_ML_MODEL_FRAMEWORK": "onnx"}),
        "pytorch": Variation(group="framework", env={"CMPY_ML_MODEL_FRAMEWORK": "pytorch"}),
        "tf": Variation(group="framework", env={"CMPY_ML_MODEL_FRAMEWORK": "tensorflow"}),
        "tensorflow": Variation(alias="tf"),
        "fp32": Variation(group="precision", default=True, env={"CMPY_ML_MODEL_PRECISION": "fp32"}),
        "int8": Variation(group="precision", env={"CMPY_ML_MODEL_PRECISION": "int8"}),
        "opset-11": Variation(
            group="opset", env={"CMPY_ML_MODEL_ONNX_OPSET": "11"}, help="ONNX only (its default)"
        ),
        "opset-8": Variation(
            group="opset", env={"CMPY_ML_MODEL_ONNX_OPSET": "8"}, help="ONNX only"
        ),
    },
    inputs={
        "url": Input("CMPY_GET_ML_MODEL_URL", "fetch the file from here (a mirror)", key=False),
        "md5": ("CMPY_GET_ML_MODEL_MD5", "the file's MD5 (default: the published one)"),
        "input": ("CMPY_GET_ML_MODEL_INPUT", "a local model file, used where it lies"),
    },
    env={"CMPY_GET_ML_MODEL_URL": "", "CMPY_GET_ML_MODEL_MD5": "", "CMPY_GET_ML_MODEL_INPUT": ""},
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_ML_MODEL_*"],
)
def get_ml_model_resnet50(ctx: Ctx) -> Result:
    """MLPerf's ResNet50 v1.5 from its published URL and checksum (ONNX checked by loading it)."""
    framework = ctx.env.get("CMPY_ML_MODEL_FRAMEWORK", "onnx")
    precision = ctx.env.get("CMPY_ML_MODEL_PRECISION", "fp32")
    opset = ctx.env.get("CMPY_ML_MODEL_ONNX_OPSET", "")
    if opset and framework != "onnx":
        raise UsageError(
            f"_opset-{opset} applies to ONNX files only, not {framework}",
            hint="drop the opset variation, or ask for _onnx",
        )
    opset = opset or ("11" if framework == "onnx" else "")
    spec = RESNET50.get((framework, precision, opset))
    if spec is None:
        raise UsageError(
            f"no published ResNet50 file for {framework} {precision}",
            hint=f"published: {_published_list()}",
        )
    local = ctx.env.get("CMPY_GET_ML_MODEL_INPUT", "").strip()
    if local:
        path = _keyed_path("input", local)
        if not os.path.isfile(path):
            raise UsageError(f"input={local!r}: there is no model file at {path}")
        source = path
    else:
        source = ctx.env.get("CMPY_GET_ML_MODEL_URL", "").strip() or spec.url
        got = ctx.run_sync(
            "download file",
            url=source,
            md5=ctx.env.get("CMPY_GET_ML_MODEL_MD5", "").strip() or spec.md5,
            filename=os.path.basename(spec.url),
        )
        path = got["CMPY_DOWNLOAD_FILE_PATH"]
    env = {
        "CMPY_ML_MODEL_NAME": "resnet50",
        "CMPY_ML_MODEL_FILE_WITH_PATH": path,
        "CMPY_ML_MODEL_FILE": os.path.basename(path),
        "CMPY_ML_MODEL_PATH": os.path.dirname(path),
        "CMPY_ML_MODEL_FRAMEWORK": framework,
        "CMPY_ML_MODEL_PRECISION": precision,
        "CMPY_ML_MODEL_INPUT_NAME": spec.input_name,
        "CMPY_ML_MODEL_INPUT_SHAPE": spec.input_shape,
        "CMPY_ML_MODEL_INPUT_DTYPE": "float32",
        "CMPY_ML_MODEL_DATA_LAYOUT": spec.layout,
        "CMPY_ML_MODEL_OUTPUT_NAME": spec.output_name,
        "CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME": spec.argmax_name,
        "CMPY_ML_MODEL_CLASSES": str(spec.classes),
        "CMPY_ML_MODEL_LABEL_OFFSET": str(spec.classes - 1000),
        "CMPY_ML_MODEL_PREPROCESSING": spec.preprocessing,
        "CMPY_ML_MODEL_DATASET": "imagenet2012-val",
        "CMPY_ML_MODEL_SOURCE": source,
    }
    if framework == "onnx":
        env["CMPY_ML_MODEL_ONNX_OPSET"] = opset
        env.update(_onnx_facts(ctx, path, spec))
    return Result(env=env)


def _onnx_facts(ctx: Ctx, path: str, spec: Published) -> dict[str, str]:
    """Load the ONNX file (a corrupt one fails here, leaving no entry) and read its names."""
    need_packages(ctx, "onnxruntime")
    session = _onnx_session(path, "the ResNet50 ONNX model")
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    first = inputs.get(spec.input_name) or next(iter(inputs.values()))
    shape = list(first.shape)
    layout = "NHWC" if len(shape) == 4 and shape[-1] == 3 and shape[1] != 3 else spec.layout
    output = outputs.get(spec.output_name) or next(
        (o for o in outputs.values() if o.type == "tensor(float)"), next(iter(outputs.values()))
    )
    classes = (
        output.shape[-1] if output.shape and isinstance(output.shape[-1], int) else spec.classes
    )
    argmax = spec.argmax_name if spec.argmax_name in outputs else ""
    return {
        "CMPY_ML_MODEL_INPUT_NAME": first.name,
        "CMPY_ML_MODEL_INPUT_SHAPE": _dims(shape),
        "CMPY_ML_MODEL_DATA_LAYOUT": layout,
        "CMPY_ML_MODEL_OUTPUT_NAME": output.name,
        "CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME": argmax,
        "CMPY_ML_MODEL_CLASSES": str(classes),
        "CMPY_ML_MODEL_LABEL_OFFSET": str(max(classes - 1000, 0)),
    }


# -- imagenet ---------------------------------------------------------------------


def _find_file(root: str, name: str) -> str:
    for folder, _dirs, files in sorted(os.walk(root)):
        if name in files:
            return os.path.join(folder, name)
    return ""


@script(
    tags="get dataset-aux imagenet imagenet-aux caffe-ilsvrc12",
    alias="get-dataset-imagenet-aux",
    uid="e055b2e3cbc895bb",
    cache=True,
    inputs={
        "input": (
            "CMPY_IMAGENET_AUX_INPUT",
            "a local caffe_ilsvrc12.tar.gz, the folder holding val.txt, or val.txt itself",
        ),
        "url": Input("CMPY_IMAGENET_AUX_URL", "fetch caffe_ilsvrc12.tar.gz from here", key=False),
        "md5": ("CMPY_IMAGENET_AUX_MD5", "the archive's MD5 (default: the published one)"),
    },
    env={"CMPY_IMAGENET_AUX_INPUT": "", "CMPY_IMAGENET_AUX_URL": "", "CMPY_IMAGENET_AUX_MD5": ""},
    exports=["CMPY_DATASET_AUX_*"],
)
def get_dataset_imagenet_aux(ctx: Ctx) -> dict[str, str]:
    """ImageNet's labels and class names (val.txt, synset_words.txt) from Caffe's ilsvrc12 tar."""
    local = ctx.env.get("CMPY_IMAGENET_AUX_INPUT", "").strip()
    if local:
        path = _keyed_path("input", local)
        if os.path.isdir(path):
            root = path
        elif os.path.isfile(path) and path.endswith(".txt"):
            root = os.path.dirname(path)
        elif os.path.isfile(path):
            root = ctx.run_sync("extract file", input=path)["CMPY_EXTRACT_EXTRACTED_PATH"]
        else:
            raise UsageError(f"input={local!r}: nothing at {path}")
        val = path if path.endswith(".txt") else _find_file(root, "val.txt")
    else:
        got = ctx.run_sync(
            "download-and-extract",
            url=ctx.env.get("CMPY_IMAGENET_AUX_URL", "").strip() or IMAGENET_AUX_URL,
            md5=ctx.env.get("CMPY_IMAGENET_AUX_MD5", "").strip() or IMAGENET_AUX_MD5,
        )
        root = got["CMPY_DAE_EXTRACTED_PATH"]
        val = _find_file(root, "val.txt")
    if not val:
        raise CmpyError(
            f"no val.txt in {root}",
            hint="give the caffe_ilsvrc12 archive, or the folder holding its val.txt, as --input",
        )
    env = {"CMPY_DATASET_AUX_PATH": root, "CMPY_DATASET_AUX_VAL_TXT": val}
    for key, name in (("SYNSET_WORDS", "synset_words.txt"), ("SYNSETS", "synsets.txt")):
        found = os.path.join(os.path.dirname(val), name)
        if os.path.isfile(found):
            env[f"CMPY_DATASET_AUX_{key}"] = found
    return env


_IMAGENET_INPUTS: dict[str, str | tuple[str, str] | Input] = {
    "input": ("CMPY_IMAGENET_INPUT", "a local tar of the validation images, or their folder"),
    "url": Input("CMPY_IMAGENET_URL", "fetch the images tar from here (a mirror)", key=False),
    "md5": ("CMPY_IMAGENET_MD5", "the images tar's MD5 (default: the published one)"),
    "labels": ("CMPY_IMAGENET_AUX_INPUT", "a local caffe_ilsvrc12.tar.gz, or val.txt"),
    "labels_url": Input(
        "CMPY_IMAGENET_AUX_URL", "fetch caffe_ilsvrc12.tar.gz from here", key=False
    ),
    "labels_md5": ("CMPY_IMAGENET_AUX_MD5", "that archive's MD5"),
}
_IMAGENET_ENV = {
    "CMPY_IMAGENET_INPUT": "",
    "CMPY_IMAGENET_URL": "",
    "CMPY_IMAGENET_MD5": "",
    "CMPY_IMAGENET_AUX_INPUT": "",
    "CMPY_IMAGENET_AUX_URL": "",
    "CMPY_IMAGENET_AUX_MD5": "",
}


@script(
    tags="get dataset imagenet ilsvrc2012 original image-classification",
    alias="get-dataset-imagenet",
    uid="7e75d3459c821533",
    cache=True,
    priority=1,  # "get dataset imagenet" means this one, not the preprocessed one
    # the labels inputs above are its env keys, which this dep inherits
    deps=[Dep("get dataset-aux imagenet", name="imagenet-aux")],
    variations={
        "2012": Variation(group="year", default=True, env={"CMPY_DATASET_YEAR": "2012"}),
        "val": Variation(group="split", default=True, env={"CMPY_DATASET_SPLIT": "val"}),
        "500": Variation(
            group="size", default=True, env={"CMPY_DATASET_SIZE": "500"}, help="the first 500"
        ),
        "full": Variation(
            group="size", env={"CMPY_DATASET_SIZE": "full"}, help="all 50000 (no public URL)"
        ),
    },
    inputs=_IMAGENET_INPUTS,
    env=_IMAGENET_ENV,
    exports=["CMPY_DATASET_*"],
)
def get_dataset_imagenet(ctx: Ctx) -> dict[str, str]:
    """ImageNet 2012 validation images (500 or all) with their labels, as MLPerf's val_map.txt."""
    size = ctx.env.get("CMPY_DATASET_SIZE", "500")
    local = ctx.env.get("CMPY_IMAGENET_INPUT", "").strip()
    if local:
        path = _keyed_path("input", local)
        if os.path.isdir(path):
            root = path
        elif os.path.isfile(path):
            root = ctx.run_sync("extract file", input=path)["CMPY_EXTRACT_EXTRACTED_PATH"]
        else:
            raise UsageError(f"input={local!r}: nothing at {path}")
    else:
        url = ctx.env.get("CMPY_IMAGENET_URL", "").strip()
        if not url and size == "full":
            if not (
                os.environ.get("CMPY_DOWNLOAD_MIRROR") or os.environ.get("CMPY_DOWNLOAD_URL_MAP")
            ):
                raise UsageError(
                    "the full ImageNet 2012 validation set has no public URL",
                    hint="give your copy of ILSVRC2012_img_val.tar (or its extracted folder) "
                    "with --input=PATH, a mirror with --url=URL, or set CMPY_DOWNLOAD_MIRROR "
                    f"to a site that holds {os.path.basename(IMAGENET_FULL_URL)}",
                )
            url = IMAGENET_FULL_URL  # a site mirror rewrites it
        default_md5 = IMAGENET_FULL_MD5 if size == "full" else IMAGENET_500_MD5
        got = ctx.run_sync(
            "download-and-extract",
            url=url or IMAGENET_500_URL,
            md5=ctx.env.get("CMPY_IMAGENET_MD5", "").strip() or default_md5,
        )
        root = got["CMPY_DAE_EXTRACTED_PATH"]
    images: dict[str, str] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(_IMAGE_SUFFIXES):
                images.setdefault(name, os.path.relpath(os.path.join(folder, name), root))
    labels = _read_val_txt(ctx.deps["imagenet-aux"]["CMPY_DATASET_AUX_VAL_TXT"])
    listed = sorted(name for name in images if name in labels)
    if not listed:
        raise CmpyError(
            f"none of the {len(images)} images under {root} is listed in val.txt",
            hint="the images must keep their names, e.g. ILSVRC2012_val_00000001.JPEG",
        )
    expected = IMAGENET_COUNTS.get(size, 0)
    if len(listed) != expected:
        ctx.log(f"found {len(listed)} labelled images where _{size} has {expected}")
    val_map = ctx.path / "val_map.txt"
    val_map.write_text("".join(f"{images[n]} {labels[n]}\n" for n in listed), encoding="utf-8")
    env = {
        "CMPY_DATASET_NAME": "imagenet",
        "CMPY_DATASET_PATH": root,
        "CMPY_DATASET_VAL_MAP": str(val_map),
        "CMPY_DATASET_COUNT": str(len(listed)),
        "CMPY_DATASET_CLASSES": "1000",
    }
    words = ctx.deps["imagenet-aux"].get("CMPY_DATASET_AUX_SYNSET_WORDS")
    if words:
        env["CMPY_DATASET_SYNSET_WORDS"] = words
    return env


def _read_val_txt(path: str) -> dict[str, int]:
    """``ILSVRC2012_val_00000001.JPEG 65`` lines -> {name: class}."""
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise CmpyError(f"{path}, line {number}: expected 'IMAGE CLASS', got {line!r}")
            out[parts[0]] = int(parts[1])
    return out


def preprocess_image(path: str, layout: str = "NCHW") -> npt.NDArray[Any]:
    """One image as MLPerf's reference feeds ResNet50: resize, centre crop, means off, float32."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    if height > width:
        size = (RESIZE_TO, int(RESIZE_TO * height / width))
    else:
        size = (int(RESIZE_TO * width / height), RESIZE_TO)
    # The reference resizes with OpenCV's INTER_AREA, an area average when
    # shrinking: Pillow's box filter is the same; growing, bilinear is close.
    shrinking = size[0] <= width
    filter_ = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = rgb.resize(size, filter_)
    left, top = int((size[0] - CROP_TO) / 2), int((size[1] - CROP_TO) / 2)
    cropped = resized.crop((left, top, left + CROP_TO, top + CROP_TO))
    pixels = np.asarray(cropped, dtype=np.float32) - np.asarray(RGB_MEANS, dtype=np.float32)
    return pixels.transpose(2, 0, 1) if layout == "NCHW" else pixels


@script(
    tags="get preprocessed dataset imagenet image-classification",
    alias="get-preprocessed-dataset-imagenet",
    uid="cac966293a772e5f",
    cache=True,
    variations={
        "NCHW": Variation(
            group="layout", default=True, env={"CMPY_DATASET_PREPROCESSED_LAYOUT": "NCHW"}
        ),
        "NHWC": Variation(group="layout", env={"CMPY_DATASET_PREPROCESSED_LAYOUT": "NHWC"}),
        "500": Variation(
            group="size",
            default=True,
            deps=[Dep("get dataset imagenet original _2012 _val _500", name="imagenet")],
        ),
        "full": Variation(
            group="size",
            deps=[Dep("get dataset imagenet original _2012 _val _full", name="imagenet")],
        ),
    },
    # the data set's inputs, inherited by the imagenet dep below
    inputs=_IMAGENET_INPUTS,
    env=_IMAGENET_ENV,
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_DATASET_PREPROCESSED_*"],
)
def get_preprocessed_dataset_imagenet(ctx: Ctx) -> Result:
    """ImageNet validation images preprocessed for ResNet50 into one float32 .npy, with labels."""
    need_packages(ctx, "numpy", "pillow")
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    layout = ctx.env.get("CMPY_DATASET_PREPROCESSED_LAYOUT", "NCHW")
    original = ctx.deps["imagenet"]
    root = original["CMPY_DATASET_PATH"]
    val_map = Path(original["CMPY_DATASET_VAL_MAP"]).read_text(encoding="utf-8")
    entries = [line.rsplit(" ", 1) for line in val_map.splitlines() if line.strip()]
    shape = (3, CROP_TO, CROP_TO) if layout == "NCHW" else (CROP_TO, CROP_TO, 3)
    data_path = ctx.path / "data.npy"
    # Written into a memory map: the full set is 30 GB, more than memory.
    data = np.lib.format.open_memmap(
        data_path, mode="w+", dtype=np.float32, shape=(len(entries), *shape)
    )

    def one(index: int) -> None:
        name = entries[index][0]
        try:
            data[index] = preprocess_image(os.path.join(root, name), layout)
        except OSError as exc:
            raise CmpyError(f"cannot read the image {name} under {root}: {exc}") from None

    # Pillow decodes and resizes without the GIL, so threads overlap.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for _ in pool.map(one, range(len(entries))):
            pass
    data.flush()
    np.save(ctx.path / "labels.npy", np.array([int(e[1]) for e in entries], dtype=np.int64))
    return Result(
        env={
            "CMPY_DATASET_PREPROCESSED_NAME": "imagenet",
            "CMPY_DATASET_PREPROCESSED_PATH": ctx.folder,
            "CMPY_DATASET_PREPROCESSED_DATA_PATH": str(data_path),
            "CMPY_DATASET_PREPROCESSED_LABELS_PATH": str(ctx.path / "labels.npy"),
            "CMPY_DATASET_PREPROCESSED_COUNT": str(len(entries)),
            "CMPY_DATASET_PREPROCESSED_SHAPE": ",".join(map(str, shape)),
            "CMPY_DATASET_PREPROCESSED_DTYPE": "float32",
            "CMPY_DATASET_PREPROCESSED_LAYOUT": layout,
            "CMPY_DATASET_PREPROCESSED_MEANS": ",".join(map(str, RGB_MEANS)),
        }
    )


# -- app image-classification onnx ------------------------------------------------

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
        path = _local_path(given)
        if os.path.isdir(path):
            files = sorted(
                os.path.join(path, n)
                for n in os.listdir(path)
                if n.lower().endswith(_IMAGE_SUFFIXES)
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
