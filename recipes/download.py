"""Recipes that fetch and unpack files: ``download file``, ``extract file``, ``download-and-extract``.

Why ``download file`` is two recipes
------------------------------------
A verified download is the file its checksum names, wherever it came from:
the same weights fetched from the publisher or from a site mirror are one
file, and asking for them again through another URL must not fetch them
again. So the cached ``download-file-entry`` is keyed on what identifies
the file: its checksums and the file name, if one was asked for. The URL
reaches it as an input marked ``key=False`` (the body sees it, the key does
not), and so do ``timeout`` and ``retries``. Without a checksum nothing but
the URL says which file is meant: ``download file`` (not cached, cheap)
then also passes it as ``unverified_url``, which is keyed.

Site mirrors (``CMPY_DOWNLOAD_MIRROR``, ``CMPY_DOWNLOAD_URL_MAP``, see
:func:`cmpy.tools.apply_url_overrides`) are read from the process
environment, as proxy settings are, and never from the run's env: a recipe
that reads a key is keyed on it, and through the Merkle keys every cached
recipe above ``download file`` would then run again when a site moves its
mirror, though not one byte of what they get changed.

``extract file`` is keyed on the archive's path and exports it, so that the
engine records the file's size and mtime: a changed archive is a miss.
``download-and-extract`` chains the two: ``download file`` as a static dep,
then ``extract file`` asked for by the body with the downloaded path, which
only exists once the download ran.
"""

from __future__ import annotations

import os

from cmpy import Ctx, Dep, Input, UsageError, script

_HEX_DIGITS = {"sha256": 64, "md5": 32}
_ENTRY = "download-file-entry"
_DEFAULT_TIMEOUT = 30.0
_DEFAULT_RETRIES = 4

# what `download file` hands back (the entry's exports, passed through)
_DOWNLOAD_EXPORTS = (
    "CMPY_DOWNLOAD_FILE_PATH",
    "CMPY_DOWNLOAD_URL_USED",
    "CMPY_DOWNLOAD_SHA256",
    "CMPY_DOWNLOAD_MD5",
    "CMPY_DOWNLOAD_SIZE",
)


def _checksum(name: str, value: str) -> str:
    text = value.strip().lower()
    if text and (len(text) != _HEX_DIGITS[name] or any(c not in "0123456789abcdef" for c in text)):
        raise UsageError(
            f"{name}={value!r} is not a {name} checksum",
            hint=f"give the {_HEX_DIGITS[name]} hex digits, as `{name}sum FILE` prints them",
        )
    return text


def _plain_name(what: str, value: str) -> str:
    """A file or folder name that stays inside the result's folder."""
    name = value.strip()
    if name in ("", ".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise UsageError(
            f"{what}={value!r} is not a plain file name",
            hint=f"give {what} as a name without folders, such as 'model.onnx'",
        )
    return name


def _seconds(what: str, value: str, default: float) -> float:
    """A positive, finite number of seconds ("" for the default)."""
    if not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    # written so that nan, which compares false to everything, is refused too
    if not 0 < seconds < float("inf"):
        raise UsageError(
            f"{what}={value!r} is not a number of seconds", hint=f"give {what} as e.g. 30"
        )
    return seconds


def _count(what: str, value: str, default: int) -> int:
    """A whole number, 0 or more ("" for the default)."""
    text = value.strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"{what}={value!r} is not a count", hint=f"give {what} as 0, 1, 2, ...")
    return int(text)


def _absolute_source(url: str) -> str:
    """A URL as given, or a local path made absolute (the entry may run in another folder)."""
    if "://" in url:
        return url
    return os.path.abspath(os.path.expanduser(url))


def _url_file_name(url: str) -> str:
    if "://" not in url:
        return os.path.basename(url)
    from urllib.parse import unquote, urlsplit

    return os.path.basename(unquote(urlsplit(url).path))


@script(
    tags="download file download-file",
    alias="download-file",
    uid="aff02dfd51e3bf3e",
    inputs={
        "url": ("CMPY_DOWNLOAD_URL", "the http(s):// or file:// URL (or a local path)"),
        "sha256": ("CMPY_DOWNLOAD_CHECKSUM_SHA256", "the expected SHA-256 (the cache key)"),
        "md5": ("CMPY_DOWNLOAD_CHECKSUM_MD5", "the expected MD5 (the cache key)"),
        "filename": ("CMPY_DOWNLOAD_FILENAME", "the file's name (default: the URL's)"),
        "timeout": ("CMPY_DOWNLOAD_TIMEOUT", "seconds to wait for the next bytes (default 30)"),
        "retries": (
            "CMPY_DOWNLOAD_RETRIES",
            "retries per source after a transient error (default 4)",
        ),
    },
    env={
        "CMPY_DOWNLOAD_URL": "",
        "CMPY_DOWNLOAD_CHECKSUM_SHA256": "",
        "CMPY_DOWNLOAD_CHECKSUM_MD5": "",
        "CMPY_DOWNLOAD_FILENAME": "",
        "CMPY_DOWNLOAD_TIMEOUT": "",
        "CMPY_DOWNLOAD_RETRIES": "",
    },
)
def download_file(ctx: Ctx) -> dict[str, str]:
    """Download a file, verified by its checksum, cached under the checksum (or the URL)."""
    url = ctx.env.get("CMPY_DOWNLOAD_URL", "").strip()
    if not url:
        raise UsageError(
            "download file needs a URL",
            hint='cmpy run "download file" --url=https://... --sha256=...',
        )
    url = _absolute_source(url)
    sha256 = _checksum("sha256", ctx.env.get("CMPY_DOWNLOAD_CHECKSUM_SHA256", ""))
    md5 = _checksum("md5", ctx.env.get("CMPY_DOWNLOAD_CHECKSUM_MD5", ""))
    given_name = ctx.env.get("CMPY_DOWNLOAD_FILENAME", "")
    filename = _plain_name("filename", given_name) if given_name.strip() else ""
    if not filename and not _url_file_name(url):
        raise UsageError(
            f"the URL {url} names no file",
            hint="give the file's name with filename=...",
        )
    timeout = _seconds("timeout", ctx.env.get("CMPY_DOWNLOAD_TIMEOUT", ""), _DEFAULT_TIMEOUT)
    retries = _count("retries", ctx.env.get("CMPY_DOWNLOAD_RETRIES", ""), _DEFAULT_RETRIES)
    got = ctx.run_sync(
        _ENTRY,
        url=url,
        sha256=sha256,
        md5=md5,
        filename=filename,
        unverified_url="" if sha256 or md5 else url,
        timeout=str(timeout),
        retries=str(retries),
    )
    return {key: got.env[key] for key in _DOWNLOAD_EXPORTS if key in got.env}


@script(
    tags=_ENTRY,
    alias=_ENTRY,
    uid="07b533bff6a51eea",
    cache=True,
    inputs={
        "sha256": ("CMPY_DOWNLOAD_CHECKSUM_SHA256", "the expected SHA-256"),
        "md5": ("CMPY_DOWNLOAD_CHECKSUM_MD5", "the expected MD5"),
        "filename": ("CMPY_DOWNLOAD_FILENAME", "the file's name (default: the URL's)"),
        "unverified_url": (
            "CMPY_DOWNLOAD_UNVERIFIED_URL",
            "the URL, when no checksum identifies the file",
        ),
        # where and how patiently to fetch it: not what it is
        "url": Input("CMPY_DOWNLOAD_URL", "the URL to fetch it from", key=False),
        "timeout": Input("CMPY_DOWNLOAD_TIMEOUT", "seconds to wait for the next bytes", key=False),
        "retries": Input("CMPY_DOWNLOAD_RETRIES", "retries per source", key=False),
    },
    env={
        "CMPY_DOWNLOAD_CHECKSUM_SHA256": "",
        "CMPY_DOWNLOAD_CHECKSUM_MD5": "",
        "CMPY_DOWNLOAD_FILENAME": "",
        "CMPY_DOWNLOAD_UNVERIFIED_URL": "",
        "CMPY_DOWNLOAD_URL": "",
        "CMPY_DOWNLOAD_TIMEOUT": "",
        "CMPY_DOWNLOAD_RETRIES": "",
    },
    exports=list(_DOWNLOAD_EXPORTS),
)
def download_file_entry(ctx: Ctx) -> dict[str, str]:
    """The cached file behind ``download file``, keyed on its checksum (or URL without one)."""
    sha256 = _checksum("sha256", ctx.env.get("CMPY_DOWNLOAD_CHECKSUM_SHA256", ""))
    md5 = _checksum("md5", ctx.env.get("CMPY_DOWNLOAD_CHECKSUM_MD5", ""))
    given_name = ctx.env.get("CMPY_DOWNLOAD_FILENAME", "")
    filename = _plain_name("filename", given_name) if given_name.strip() else ""
    url = ctx.env.get("CMPY_DOWNLOAD_URL", "").strip() or ctx.env.get(
        "CMPY_DOWNLOAD_UNVERIFIED_URL", ""
    ).strip()
    if not url:
        raise UsageError(
            f"{_ENTRY} has no URL to fetch the file from",
            hint='ask for it through "download file" with url=...',
        )
    got = ctx.download_sync(
        url,
        filename=filename or None,
        sha256=sha256 or None,
        md5=md5 or None,
        timeout=_seconds("timeout", ctx.env.get("CMPY_DOWNLOAD_TIMEOUT", ""), _DEFAULT_TIMEOUT),
        retries=_count("retries", ctx.env.get("CMPY_DOWNLOAD_RETRIES", ""), _DEFAULT_RETRIES),
    )
    env = {
        "CMPY_DOWNLOAD_FILE_PATH": os.path.abspath(got.path),
        "CMPY_DOWNLOAD_URL_USED": got.url,
        "CMPY_DOWNLOAD_SHA256": got.sha256,
        "CMPY_DOWNLOAD_SIZE": str(got.size),
    }
    if got.md5:
        env["CMPY_DOWNLOAD_MD5"] = got.md5
    return env


@script(
    tags="extract file extract-file",
    alias="extract-file",
    uid="bb819a6af7ea3494",
    cache=True,
    inputs={
        "input": ("CMPY_EXTRACT_INPUT", "the archive (tar, tar.gz/bz2/xz, zip), an absolute path"),
        "strip_components": (
            "CMPY_EXTRACT_STRIP_COMPONENTS",
            "leading folders to drop from each member (default 0)",
        ),
        "to": ("CMPY_EXTRACT_TO", "the folder's name inside the result (default: extracted)"),
    },
    env={
        "CMPY_EXTRACT_INPUT": "",
        "CMPY_EXTRACT_STRIP_COMPONENTS": "0",
        "CMPY_EXTRACT_TO": "extracted",
    },
    exports=["CMPY_EXTRACT_INPUT", "CMPY_EXTRACT_EXTRACTED_PATH"],
)
def extract_file(ctx: Ctx) -> dict[str, str]:
    """Extract a tar or zip archive safely, all or nothing, into the result's folder."""
    archive = ctx.env.get("CMPY_EXTRACT_INPUT", "").strip()
    if not archive:
        raise UsageError(
            "extract file needs the archive to extract",
            hint='cmpy run "extract file" --input=/path/to/archive.tar.gz',
        )
    # the cache key is the path as given: a relative one would name other
    # files from other folders under the same key
    if not os.path.isabs(archive):
        raise UsageError(
            f"input={archive!r} is a relative path",
            hint=f"give the absolute path, such as {os.path.abspath(archive)}",
        )
    if not os.path.isfile(archive):
        raise UsageError(f"the archive {archive} does not exist", hint="check the path")
    strip = _count("strip_components", ctx.env.get("CMPY_EXTRACT_STRIP_COMPONENTS", ""), 0)
    to = _plain_name("to", ctx.env.get("CMPY_EXTRACT_TO", "") or "extracted")
    where = ctx.extract_sync(archive, ctx.path / to, strip_components=strip)
    return {
        "CMPY_EXTRACT_INPUT": archive,
        "CMPY_EXTRACT_EXTRACTED_PATH": os.path.abspath(where),
    }


@script(
    tags="download-and-extract download extract",
    alias="download-and-extract",
    uid="f6a40330600e7614",
    # its inputs use download file's env keys, which the dep inherits
    deps=[Dep("download file", name="download")],
    inputs={
        "url": ("CMPY_DOWNLOAD_URL", "the http(s):// or file:// URL of the archive"),
        "sha256": ("CMPY_DOWNLOAD_CHECKSUM_SHA256", "the archive's expected SHA-256"),
        "md5": ("CMPY_DOWNLOAD_CHECKSUM_MD5", "the archive's expected MD5"),
        "filename": ("CMPY_DOWNLOAD_FILENAME", "the archive's file name (default: the URL's)"),
        "timeout": ("CMPY_DOWNLOAD_TIMEOUT", "seconds to wait for the next bytes (default 30)"),
        "retries": ("CMPY_DOWNLOAD_RETRIES", "retries per source after a transient error"),
        "strip_components": (
            "CMPY_EXTRACT_STRIP_COMPONENTS",
            "leading folders to drop from each member (default 0)",
        ),
    },
    env={"CMPY_EXTRACT_STRIP_COMPONENTS": "0"},
)
def download_and_extract(ctx: Ctx) -> dict[str, str]:
    """Download an archive (verified, cached) and extract it (cached per archive)."""
    archive = ctx.deps["download"]["CMPY_DOWNLOAD_FILE_PATH"]
    extracted = ctx.run_sync(
        "extract file",
        input=archive,
        strip_components=ctx.env.get("CMPY_EXTRACT_STRIP_COMPONENTS", "0"),
    )
    return {
        "CMPY_DAE_FILE_PATH": archive,
        "CMPY_DAE_EXTRACTED_PATH": extracted["CMPY_EXTRACT_EXTRACTED_PATH"],
    }
