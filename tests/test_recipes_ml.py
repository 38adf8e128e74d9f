"""The machine-learning recipes: digits, ResNet50 and ImageNet (served locally), classification.

The real files are large and far away, so the tests serve stand-ins from
127.0.0.1 and pass their checksums in: a tiny ONNX graph with ResNet50's
input and output names, a tar of a few generated images, and a labels
archive laid out as Caffe's caffe_ilsvrc12.tar.gz. The published URLs and
checksums stay the defaults; one test says so.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _httpserver import LocalHTTPServer

from cmpy import CmpyError, Result, ToolNotFound, UsageError, run

np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")

# -- stand-ins ---------------------------------------------------------------------


def standin_resnet50(classes: int = 1001) -> bytes:
    """An ONNX graph named as MLPerf's ResNet50: input_tensor:0 (N,3,224,224), softmax, argmax."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.linspace(-1.0, 1.0, 3 * classes, dtype=np.float32).reshape(3, classes)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input_tensor:0"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "weights"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["softmax_tensor:0"], axis=1),
            helper.make_node("ArgMax", ["logits"], ["ArgMax:0"], axis=1, keepdims=0),
        ],
        "resnet50-standin",
        [helper.make_tensor_value_info("input_tensor:0", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [
            helper.make_tensor_value_info("ArgMax:0", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("softmax_tensor:0", TensorProto.FLOAT, ["N", classes]),
        ],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # readable by every onnxruntime the mlperf extra allows
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def image_bytes(color: tuple[int, int, int], size: tuple[int, int], fmt: str = "JPEG") -> bytes:
    image_module = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    image_module.new("RGB", size, color).save(out, format=fmt, quality=95)
    return out.getvalue()


def tar_bytes(files: dict[str, bytes], *, gz: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


IMAGES = {
    "ILSVRC2012_val_00000001.JPEG": ((200, 100, 50), (300, 200)),
    "ILSVRC2012_val_00000002.JPEG": ((10, 20, 30), (256, 256)),
    "ILSVRC2012_val_00000003.JPEG": ((128, 128, 128), (180, 400)),
}
VAL_TXT = (
    "ILSVRC2012_val_00000001.JPEG 65\n"
    "ILSVRC2012_val_00000002.JPEG 970\n"
    "ILSVRC2012_val_00000003.JPEG 230\n"
    "ILSVRC2012_val_00000004.JPEG 809\n"
)
SYNSET_WORDS = "".join(f"n{i:08d} class number {i}\n" for i in range(1000))


class Mirror:
    """The stand-ins served from a local server, and the inputs that point at them."""

    def __init__(self, server: LocalHTTPServer) -> None:
        self.server = server
        self.model = standin_resnet50()
        self.labels = tar_bytes(
            {"val.txt": VAL_TXT.encode(), "synset_words.txt": SYNSET_WORDS.encode()}, gz=True
        )
        self.served = {
            "model": server.serve("/resnet50_v1.onnx", self.model),
            "labels": server.serve("/caffe_ilsvrc12.tar.gz", self.labels),
        }

    @functools.cached_property
    def images(self) -> bytes:
        """The images tar, made on first use (it needs Pillow, which a model test does not)."""
        data = tar_bytes({f"val500/{name}": image_bytes(*spec) for name, spec in IMAGES.items()})
        self.served["images"] = self.server.serve("/ILSVRC2012_img_val_500.tar", data)
        return data

    @property
    def model_inputs(self) -> dict[str, str]:
        return {"url": self.server.url("/resnet50_v1.onnx"), "md5": md5(self.model)}

    @property
    def imagenet_inputs(self) -> dict[str, str]:
        return {
            "md5": md5(self.images),
            "url": self.server.url("/ILSVRC2012_img_val_500.tar"),
            "labels_url": self.server.url("/caffe_ilsvrc12.tar.gz"),
            "labels_md5": md5(self.labels),
        }


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with LocalHTTPServer() as server:
        yield Mirror(server)


def cached_recipes() -> list[str]:
    """The aliases of the recipes with a cache entry (``cmpy cache ls``, this test's CMPY_HOME)."""
    from cmpy._cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cache", "ls", "--json"]) == 0
    return [entry["recipe"] for entry in json.loads(out.getvalue())]


# -- digits ------------------------------------------------------------------------


def test_digits_splits_and_the_model_trained_on_them() -> None:
    val = run("get dataset digits", quiet=True)
    train = run("get dataset digits _train", quiet=True)
    assert val["CMPY_DATASET_SPLIT"] == "val" and train["CMPY_DATASET_SPLIT"] == "train"
    assert int(val["CMPY_DATASET_COUNT"]) + int(train["CMPY_DATASET_COUNT"]) == 1797
    images = np.load(val["CMPY_DATASET_DATA_PATH"])
    labels = np.load(val["CMPY_DATASET_LABELS_PATH"])
    assert images.shape == (450, 8, 8) and images.dtype == np.uint8 and images.max() == 16
    assert sorted(set(labels.tolist())) == list(range(10))

    pre = run("get preprocessed dataset digits", quiet=True)
    data = np.load(pre["CMPY_DATASET_PREPROCESSED_DATA_PATH"])
    assert data.shape == (450, 64) and data.dtype == np.float32
    assert np.allclose(data, images.reshape(450, 64) / 16)
    assert pre["CMPY_DATASET_PREPROCESSED_SHAPE"] == "64"

    model = run("get ml-model digits _onnx", quiet=True)
    env = model.env
    assert 0.95 <= float(env["CMPY_ML_MODEL_ACCURACY"]) <= 0.995
    assert Path(env["CMPY_ML_MODEL_FILE_WITH_PATH"]).is_file()
    assert (env["CMPY_ML_MODEL_FRAMEWORK"], env["CMPY_ML_MODEL_PRECISION"]) == ("onnx", "fp32")
    assert (env["CMPY_ML_MODEL_INPUT_NAME"], env["CMPY_ML_MODEL_INPUT_SHAPE"]) == ("input", "-1,64")
    assert env["CMPY_ML_MODEL_OUTPUT_NAME"] == "probabilities"
    assert env["CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME"] == "label"

    import onnxruntime as ort

    session = ort.InferenceSession(env["CMPY_ML_MODEL_FILE_WITH_PATH"])
    predicted = session.run(["label"], {"input": data})[0]
    assert float((predicted == labels).mean()) == pytest.approx(
        float(env["CMPY_ML_MODEL_ACCURACY"]), abs=1e-4
    )

    again = run("get ml-model digits", quiet=True)
    assert again.cached and again.env == env


def test_training_stops_between_epochs_when_cancelled() -> None:
    """In a worker thread (the concurrent executor) training polls ``cancelled``."""
    import threading
    import time

    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    from cmpy import Interrupted
    from cmpy.recipes.ml_digits import fit_in_epochs

    features, target = load_digits(return_X_y=True)
    mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000, random_state=0)
    began = time.monotonic()
    raised: list[BaseException] = []

    def train() -> None:
        try:
            fit_in_epochs(mlp, features / 16, target, lambda: time.monotonic() - began > 0.1)
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=train)
    worker.start()
    worker.join(30)
    assert time.monotonic() - began < 1.0
    assert [type(e) for e in raised] == [Interrupted]
    assert str(raised[0]) == (
        "interrupted by Ctrl-C while running training the digits model (nothing was cached)"
    )
    assert 0 < len(mlp.loss_curve_) < 100


def test_ctrl_c_while_the_digits_model_trains_caches_nothing(tmp_path: Path) -> None:
    """The real command, its body in the main thread: scikit-learn would swallow a
    KeyboardInterrupt raised inside fit() and return a half-trained model to cache."""
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, CMPY_HOME=str(tmp_path / "home"))

    def cmpy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cmpy", *args], cwd=root, env=env, capture_output=True, text=True
        )

    for split in ("_train", "_val"):  # then the model is all that is left to run
        assert cmpy("run", f"get preprocessed dataset digits {split}", "--quiet").returncode == 0
    with subprocess.Popen(
        [sys.executable, "-m", "cmpy", "run", "get ml-model digits"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        lines: list[str] = []
        for line in proc.stderr:
            lines.append(line)
            if "training MLPClassifier" in line:
                break
        time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        lines += proc.stderr.readlines()
        proc.wait(timeout=30)
        took = time.monotonic() - sent
    assert proc.returncode == 130, "".join(lines)
    assert took < 5.0
    said = [line for line in lines if line.startswith("cmpy: interrupted")]
    assert len(said) == 1, "".join(lines)
    assert "training the digits model (nothing was cached)" in said[0]
    listed = cmpy("cache", "ls", "ml-model")
    assert "no cached results match" in listed.stdout + listed.stderr


def test_packages_are_those_of_the_running_interpreter() -> None:
    """The bodies import what they ask for, so a caller's python override must not apply."""
    r = run("get dataset digits", adr={"python": {"tags": "_venv.elsewhere"}}, quiet=True)

    def pythons(result: Result) -> list[Result]:
        found = [result] if result.recipe == "get-python3" else []
        return found + [p for dep in result.deps for p in pythons(dep)]

    assert r.find("install-python-venv") is None
    assert pythons(r) and all(p.variations == ("current",) for p in pythons(r))
    assert {p["CMPY_PYTHON_BIN_WITH_PATH"] for p in pythons(r)} == {os.path.abspath(sys.executable)}


# -- resnet50 ----------------------------------------------------------------------


def test_resnet50_defaults_are_the_published_files() -> None:
    from cmpy.recipes.ml_resnet50 import RESNET50

    onnx11 = RESNET50[("onnx", "fp32", "11")]
    assert onnx11.url == "https://zenodo.org/record/4735647/files/resnet50_v1.onnx"
    assert onnx11.md5 == "f6a4da60cd5f084d97efc2c1ddb10beb"
    assert RESNET50[("onnx", "fp32", "8")].md5 == "a638cf028b5870da29e09ccc2f7182e7"
    assert RESNET50[("pytorch", "fp32", "")].md5 == "9e9c86b324d80e65229fab49b8d9a8e8"
    assert RESNET50[("pytorch", "int8", "")].md5 == "6893ea9769b0afce65bb0ddf002f4438"
    assert RESNET50[("tensorflow", "fp32", "")].md5 == "7b94a2da05dd30f6c0af23a46bc08886"


def test_resnet50_onnx_from_a_mirror(mirror: Mirror) -> None:
    r = run("get ml-model resnet50 _onnx _fp32", **mirror.model_inputs, quiet=True)
    env = r.env
    assert Path(env["CMPY_ML_MODEL_FILE_WITH_PATH"]).read_bytes() == mirror.model
    assert env["CMPY_ML_MODEL_INPUT_NAME"] == "input_tensor:0"
    assert env["CMPY_ML_MODEL_INPUT_SHAPE"] == "-1,3,224,224"
    assert env["CMPY_ML_MODEL_DATA_LAYOUT"] == "NCHW"
    assert env["CMPY_ML_MODEL_OUTPUT_NAME"] == "softmax_tensor:0"
    assert env["CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME"] == "ArgMax:0"
    assert (env["CMPY_ML_MODEL_CLASSES"], env["CMPY_ML_MODEL_LABEL_OFFSET"]) == ("1001", "1")
    assert env["CMPY_ML_MODEL_ONNX_OPSET"] == "11"
    # the URL is where it came from, not what it is: another mirror is the same entry
    other = {**mirror.model_inputs, "url": mirror.server.url("/elsewhere/resnet50_v1.onnx")}
    again = run("get ml-model resnet50", **other, quiet=True)
    assert again.cached and mirror.served["model"].hits == 1


def test_resnet50_other_frameworks_and_what_is_not_published(mirror: Mirror) -> None:
    r = run("get ml-model resnet50 _pytorch _int8", **mirror.model_inputs, quiet=True)
    assert (r["CMPY_ML_MODEL_FRAMEWORK"], r["CMPY_ML_MODEL_PRECISION"]) == ("pytorch", "int8")
    assert r["CMPY_ML_MODEL_FILE"] == "resnet50_INT8bit_quantized.pt"
    assert r["CMPY_ML_MODEL_LABEL_OFFSET"] == "0"
    tf = run("get ml-model resnet50 _tensorflow", **mirror.model_inputs, quiet=True)
    assert (tf["CMPY_ML_MODEL_DATA_LAYOUT"], tf["CMPY_ML_MODEL_FRAMEWORK"]) == (
        "NHWC",
        "tensorflow",
    )
    with pytest.raises(UsageError, match="no published ResNet50 file for onnx int8") as info:
        run("get ml-model resnet50 _onnx _int8", quiet=True)
    assert "_pytorch _int8" in str(info.value)
    with pytest.raises(UsageError, match="ONNX files only"):
        run("get ml-model resnet50 _pytorch _opset-8", quiet=True)


def test_a_corrupt_model_fails_clearly_and_leaves_no_entry(mirror: Mirror) -> None:
    junk = b"<html>this is not an ONNX model</html>" * 10
    mirror.server.serve("/broken/resnet50_v1.onnx", junk)
    with pytest.raises(CmpyError, match="not a model onnxruntime can load") as info:
        run(
            "get ml-model resnet50",
            url=mirror.server.url("/broken/resnet50_v1.onnx"),
            md5=md5(junk),
            quiet=True,
        )
    assert "get-ml-model-resnet50" in " ".join(info.value.chain)
    assert "download-file-entry" in cached_recipes()  # the file is what its checksum names
    assert "get-ml-model-resnet50" not in cached_recipes()


def test_resnet50_from_a_local_file(tmp_path: Path) -> None:
    local = tmp_path / "mine.onnx"
    local.write_bytes(standin_resnet50())
    r = run("get ml-model resnet50", input=str(local), quiet=True)
    assert r["CMPY_ML_MODEL_FILE_WITH_PATH"] == str(local)
    assert r["CMPY_ML_MODEL_SOURCE"] == str(local)
    with pytest.raises(UsageError, match="no model file"):
        run("get ml-model resnet50", input=str(tmp_path / "absent.onnx"), quiet=True)
    # the key holds the text: a relative path would name other files from other folders
    with pytest.raises(UsageError, match="relative path") as info:
        run("get ml-model resnet50", input="mine.onnx", quiet=True)
    assert os.path.abspath("mine.onnx") in str(info.value)


# -- imagenet ----------------------------------------------------------------------


def test_imagenet_500_and_its_labels_from_a_mirror(mirror: Mirror) -> None:
    r = run("get dataset imagenet _2012 _val _500", **mirror.imagenet_inputs, quiet=True)
    assert (r["CMPY_DATASET_COUNT"], r["CMPY_DATASET_SIZE"], r["CMPY_DATASET_YEAR"]) == (
        "3",
        "500",
        "2012",
    )
    lines = Path(r["CMPY_DATASET_VAL_MAP"]).read_text().splitlines()
    assert lines == [
        "val500/ILSVRC2012_val_00000001.JPEG 65",
        "val500/ILSVRC2012_val_00000002.JPEG 970",
        "val500/ILSVRC2012_val_00000003.JPEG 230",
    ]
    assert Path(r["CMPY_DATASET_SYNSET_WORDS"]).is_file()

    nchw = run("get preprocessed dataset imagenet _NCHW", **mirror.imagenet_inputs, quiet=True)
    assert (
        nchw.find("get-dataset-imagenet") is not None and nchw.find("get-dataset-imagenet").cached
    )  # type: ignore[union-attr]
    data = np.load(nchw["CMPY_DATASET_PREPROCESSED_DATA_PATH"])
    assert data.shape == (3, 3, 224, 224) and data.dtype == np.float32
    # a flat colour stays flat: each channel is its value less MLPerf's mean
    assert data[0, :, 112, 112] == pytest.approx([200 - 123.68, 100 - 116.78, 50 - 103.94], abs=3)
    labels = np.load(nchw["CMPY_DATASET_PREPROCESSED_LABELS_PATH"])
    assert labels.tolist() == [65, 970, 230]

    nhwc = run("get preprocessed dataset imagenet _NHWC", **mirror.imagenet_inputs, quiet=True)
    assert np.load(nhwc["CMPY_DATASET_PREPROCESSED_DATA_PATH"]).shape == (3, 224, 224, 3)
    assert mirror.served["images"].hits == 1 and mirror.served["labels"].hits == 1


def test_imagenet_from_a_local_folder_and_val_txt(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name, spec in IMAGES.items():
        (folder / name).write_bytes(image_bytes(*spec))
    (tmp_path / "val.txt").write_text(VAL_TXT)
    r = run("get dataset imagenet", input=str(folder), labels=str(tmp_path / "val.txt"), quiet=True)
    assert r["CMPY_DATASET_PATH"] == str(folder) and r["CMPY_DATASET_COUNT"] == "3"
    assert "CMPY_DATASET_SYNSET_WORDS" not in r.env


def test_the_full_imagenet_asks_for_a_source(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CMPY_DOWNLOAD_MIRROR", raising=False)
    monkeypatch.delenv("CMPY_DOWNLOAD_URL_MAP", raising=False)
    labels = {k: v for k, v in mirror.imagenet_inputs.items() if k.startswith("labels")}
    with pytest.raises(UsageError, match="no public URL") as info:
        run("get dataset imagenet _full", **labels, quiet=True)
    assert "--input=PATH" in str(info.value)


def test_the_full_imagenet_through_a_site_mirror(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ILSVRC2012_img_val.tar").write_bytes(mirror.images)
    monkeypatch.setenv("CMPY_DOWNLOAD_MIRROR", str(site))
    labels = {k: v for k, v in mirror.imagenet_inputs.items() if k.startswith("labels")}
    r = run("get dataset imagenet _full", md5=md5(mirror.images), **labels, quiet=True)
    assert (r["CMPY_DATASET_SIZE"], r["CMPY_DATASET_COUNT"]) == ("full", "3")


def test_images_without_labels_are_refused(mirror: Mirror, tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    (folder / "beach.jpg").write_bytes(image_bytes((1, 2, 3), (64, 64)))
    labels = {k: v for k, v in mirror.imagenet_inputs.items() if k.startswith("labels")}
    with pytest.raises(CmpyError, match="none of the 1 images"):
        run("get dataset imagenet", input=str(folder), **labels, quiet=True)


# -- app image-classification onnx -------------------------------------------------


def digit_png(images: Any, index: int, path: Path) -> Path:
    """A 64x64 picture of a digits sample: dark ink on white, as people draw them."""
    image_module = pytest.importorskip("PIL.Image")
    ink = images[index].astype(np.float32)
    pixels = np.round(255 - ink * 255 / 16).astype(np.uint8)
    picture = image_module.fromarray(pixels, mode="L").resize(
        (64, 64), image_module.Resampling.NEAREST
    )
    picture.save(path)
    return path


def test_classify_a_picture_of_a_digit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = run("get dataset digits", quiet=True)
    images = np.load(dataset["CMPY_DATASET_DATA_PATH"])
    labels = np.load(dataset["CMPY_DATASET_LABELS_PATH"])
    picture = digit_png(images, 0, tmp_path / "digit.png")
    r = run("app image-classification onnx _digits", input=str(picture))
    assert r["CMPY_IMAGE_CLASSIFICATION_TOP1"] == str(labels[0])
    top5 = r.state["image_classification"][0]["top5"]
    assert len(top5) == 5 and top5[0]["score"] >= top5[-1]["score"]
    out = capsys.readouterr().out
    assert "digit.png" in out and "  5. " in out


def test_classify_data_set_samples(capsys: pytest.CaptureFixture[str]) -> None:
    r = run("app image-classification onnx _digits", count=20)
    assert r["CMPY_IMAGE_CLASSIFICATION_COUNT"] == "20"
    assert float(r["CMPY_IMAGE_CLASSIFICATION_ACCURACY"]) >= 0.85
    assert "(true class" in capsys.readouterr().out


def test_classify_with_the_resnet50_standin_names_the_classes(
    mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "cat.jpg"
    picture.write_bytes(image_bytes((250, 20, 20), (320, 240)))
    r = run(
        "app image-classification onnx",
        input=str(picture),
        adr={
            "model": {"inputs": mirror.model_inputs},
            "imagenet-aux": {
                "inputs": {
                    "url": mirror.server.url("/caffe_ilsvrc12.tar.gz"),
                    "md5": md5(mirror.labels),
                }
            },
        },
    )
    top5 = r.state["image_classification"][0]["top5"]
    assert r["CMPY_IMAGE_CLASSIFICATION_TOP1"] == str(top5[0]["class"])
    out = capsys.readouterr().out
    for best in top5:
        # the model's class 0 is "background"; the others are ImageNet's, named
        k = best["class"]
        assert best["name"] == ("(background)" if k == -1 else f"n{k:08d} class number {k}")
        assert best["name"] in out


def test_classify_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no image or folder"):
        run("app image-classification onnx _digits", input=str(tmp_path / "absent.png"), quiet=True)


def test_a_missing_cuda_provider_is_a_clear_error() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has onnxruntime's CUDA provider")
    with pytest.raises(ToolNotFound, match="CUDAExecutionProvider") as info:
        run("app image-classification onnx _digits _cuda", quiet=True)
    assert "onnxruntime-gpu" in str(info.value)


def test_results_are_plain_results() -> None:
    r = run("get preprocessed dataset digits _train", quiet=True)
    assert isinstance(r, Result) and r["CMPY_DATASET_PREPROCESSED_COUNT"] == "1347"
