"""``get ml-model resnet50``: MLPerf's ResNet50 v1.5, from its published files.

``RESNET50`` lists the published files (framework, precision, ONNX opset)
with their URLs, checksums and what a backend must know to run them. The
file comes through the ``download file`` recipe with its checksum;
``--url``/``--md5`` point it at a mirror or a stand-in, and ``--input`` at a
local copy, used where it lies and trusted as given: the checksums guard
downloads. An ONNX file is loaded once, which checks it and reads its input
and output names.

The model is cached. The body asks for onnxruntime itself:
``recipes/ml_common.py`` says why.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from cmpy import Ctx, Input, Result, UsageError, Variation, script

from .ml_common import dims, keyed_path, need_packages, onnx_session


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
        path = keyed_path("input", local)
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
    session = onnx_session(path, "the ResNet50 ONNX model")
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
        "CMPY_ML_MODEL_INPUT_SHAPE": dims(shape),
        "CMPY_ML_MODEL_DATA_LAYOUT": layout,
        "CMPY_ML_MODEL_OUTPUT_NAME": output.name,
        "CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME": argmax,
        "CMPY_ML_MODEL_CLASSES": str(classes),
        "CMPY_ML_MODEL_LABEL_OFFSET": str(max(classes - 1000, 0)),
    }
