"""ImageNet 2012 validation: its labels, its images, and the images preprocessed for ResNet50.

``get dataset-aux imagenet`` gives the labels and class names (Caffe's
ilsvrc12 archive), ``get dataset imagenet`` the images (the first 500, or
all 50000) with MLPerf's ``val_map.txt``, and ``get preprocessed dataset
imagenet`` the images as ResNet50 takes them, in one float32 array.
``preprocess_image`` is MLPerf's reference preprocessing, also used by
``app image-classification onnx`` for images given to it.

The archives come from their published URLs with their checksums, through
the ``download-and-extract`` recipe; ``--url``/``--md5`` point them at a
mirror or a stand-in, and ``--input`` at a local copy, which is used where it
lies (a folder) or extracted from (an archive), trusted as given: the
checksums guard downloads. The full set has no public URL.

Data sets are cached. The bodies ask for the packages they import (numpy,
Pillow) themselves: ``recipes/ml_common.py`` says why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmpy import CmpyError, Ctx, Dep, Input, Result, UsageError, Variation, script

from .ml_common import (
    CROP_TO,
    IMAGE_SUFFIXES,
    RESIZE_TO,
    RGB_MEANS,
    keyed_path,
    need_packages,
)

if TYPE_CHECKING:
    import numpy.typing as npt

IMAGENET_500_URL = "http://cKnowledge.org/ai/data/ILSVRC2012_img_val_500.tar"
IMAGENET_500_MD5 = "8627befdd8c2bcf305729020e9db354e"
# Behind image-net.org's login: no public URL. Named so that a site's
# CMPY_DOWNLOAD_MIRROR / CMPY_DOWNLOAD_URL_MAP can rewrite it.
IMAGENET_FULL_URL = "https://image-net.org/data/ILSVRC/2012/ILSVRC2012_img_val.tar"
IMAGENET_FULL_MD5 = "29b22e2961454d5413ddabcf34fc5622"
IMAGENET_COUNTS = {"500": 500, "full": 50_000}
IMAGENET_AUX_URL = "http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz"
IMAGENET_AUX_MD5 = "f963098ea0e785a968ca1eb634003a90"


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
        path = keyed_path("input", local)
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
        path = keyed_path("input", local)
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
            if name.lower().endswith(IMAGE_SUFFIXES):
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
