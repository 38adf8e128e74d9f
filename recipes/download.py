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

Where, how patiently and how much to fetch (``timeout``, ``total_timeout``,
``size``) are not keyed either; ``download file`` checks ``size`` against the
entry it gets, so a cached file of another size is an error, not a surprise.
A cut download is kept in the cmpy home's ``partial-downloads`` folder (by
``ctx.download``), which outlives the failed entry's folder: the next run
resumes it with a ``Range`` request.

``extract file`` is keyed on the archive's path and exports it, so that the
engine records the file's size and mtime: a changed archive is a miss. Its
limits (``max_total_size``, ``max_members``, ``max_ratio``,
``ratio_min_size``) are not keyed: they refuse an archive or let it through,
they never change what is extracted; ``allow_empty`` is keyed, so an empty
result cached under it is never handed to a run that did not allow it.
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
_NONE = ("none", "no", "off", "unlimited")
_TRUE = ("yes", "on", "true", "1")
_FALSE = ("", "no", "off", "false", "0")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 1000,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 1000**2,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 1000**3,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 1000**4,
}
# the extraction limits: input name -> (env key, help)
_LIMIT_INPUTS = {
    "max_total_size": (
        "CMPY_EXTRACT_MAX_TOTAL_SIZE",
        "the most the members may hold in all, e.g. 50GiB (default 50 GiB; none: no limit)",
    ),
    "max_members": (
        "CMPY_EXTRACT_MAX_MEMBERS",
        "the most members the archive may have (default 1000000; none: no limit)",
    ),
    "max_ratio": (
        "CMPY_EXTRACT_MAX_RATIO",
        "the most a member or the archive may expand over its compressed size, "
        "checked past ratio_min_size (default 200; none: no limit)",
    ),
    "ratio_min_size": (
        "CMPY_EXTRACT_RATIO_MIN_SIZE",
        "the size past which max_ratio is checked, e.g. 100MiB (default 100 MiB)",
    ),
}
_ALLOW_EMPTY = (
    "CMPY_EXTRACT_ALLOW_EMPTY",
    "yes: an archive that yields no member gives an empty folder (default: an error)",
)

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
    return _positive_seconds(what, value)


def _total_seconds(what: str, value: str) -> float | None:
    """A positive, finite number of seconds, or None ("" or "none": no limit)."""
    if not value.strip() or value.strip().lower() in _NONE:
        return None
    return _positive_seconds(what, value)


def _positive_seconds(what: str, value: str) -> float:
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


def _size(what: str, value: str, *, none: bool) -> int | None:
    """A number of bytes with an optional unit (``100MiB``, ``2G``), or None for "none"."""
    text = value.strip().lower().replace(" ", "").replace("_", "")
    if none and text in _NONE:
        return None
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits) :]
    try:
        number = float(digits) if digits else -1.0
    except ValueError:
        number = -1.0
    if (
        unit not in _UNITS
        or not 0 <= number < float("inf")
        or number * _UNITS[unit] != int(number * _UNITS[unit])
    ):
        raise UsageError(
            f"{what}={value!r} is not a size",
            hint=f"give {what} in bytes, or with a unit: 500M, 100MiB, 50GiB"
            + (", or none for no limit" if none else ""),
        )
    return int(number * _UNITS[unit])


def _limit_count(what: str, value: str) -> int | None:
    if value.strip().lower() in _NONE:
        return None
    return _count(what, value, 0)


def _ratio(what: str, value: str) -> float | None:
    text = value.strip().lower()
    if text in _NONE:
        return None
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0 < ratio < float("inf"):
        raise UsageError(
            f"{what}={value!r} is not a ratio",
            hint=f"give {what} as e.g. 200, or none for no limit",
        )
    return ratio


def _yes(what: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{what}={value!r} is not yes or no", hint=f"give {what}=yes or {what}=no")


def _extract_limits(ctx: Ctx) -> dict[str, object]:
    """The keywords of ``ctx.extract`` that the inputs ask for (unset ones keep their defaults)."""
    limits: dict[str, object] = {
        "allow_empty": _yes("allow_empty", ctx.env.get(_ALLOW_EMPTY[0], "")),
    }
    for name, (key, _help) in _LIMIT_INPUTS.items():
        value = ctx.env.get(key, "")
        if not value.strip():
            continue
        if name == "max_members":
            limits[name] = _limit_count(name, value)
        elif name == "max_ratio":
            limits[name] = _ratio(name, value)
        else:
            limits[name] = _size(name, value, none=name != "ratio_min_size")
    return limits


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


_SIZE_HELP = "the file's size in bytes, when known: more (or another size) is an error"
_TIMEOUT_HELP = (
    "seconds of inactivity allowed: no byte, or less than 1 KiB, in that long (default 30)"
)
_TOTAL_TIMEOUT_HELP = "seconds for the whole download, every retry included (default: none)"


@script(
    tags="download file download-file",
    alias="download-file",
    uid="aff02dfd51e3bf3e",
    inputs={
        "url": ("CMPY_DOWNLOAD_URL", "the http(s):// or file:// URL (or a local path)"),
        "sha256": ("CMPY_DOWNLOAD_CHECKSUM_SHA256", "the expected SHA-256 (the cache key)"),
        "md5": ("CMPY_DOWNLOAD_CHECKSUM_MD5", "the expected MD5 (the cache key)"),
        "filename": ("CMPY_DOWNLOAD_FILENAME", "the file's name (default: the URL's)"),
        "size": ("CMPY_DOWNLOAD_EXPECTED_SIZE", _SIZE_HELP),
        "timeout": ("CMPY_DOWNLOAD_TIMEOUT", _TIMEOUT_HELP),
        "total_timeout": ("CMPY_DOWNLOAD_TOTAL_TIMEOUT", _TOTAL_TIMEOUT_HELP),
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
        "CMPY_DOWNLOAD_EXPECTED_SIZE": "",
        "CMPY_DOWNLOAD_TIMEOUT": "",
        "CMPY_DOWNLOAD_TOTAL_TIMEOUT": "",
        "CMPY_DOWNLOAD_RETRIES": "",
    },
)
def download_file(ctx: Ctx) -> dict[str, str]:
    """Download a file, verified by its checksum, cached under the checksum (or the URL)."""
    from cmpy.tools import redact

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
    url_name = _url_file_name(url)
    if not filename and not url_name:
        raise UsageError(
            f"the URL {redact(url)} names no file",
            hint="give the file's name with filename=...",
        )
    if not filename and (url_name in (".", "..") or "\0" in url_name):
        raise UsageError(
            f"the URL {redact(url)} ends in {url_name!r}, which cannot name a file",
            hint="give the file's name with filename=...",
        )
    given_size = ctx.env.get("CMPY_DOWNLOAD_EXPECTED_SIZE", "")
    size = _size("size", given_size, none=False) if given_size.strip() else None
    timeout = _seconds("timeout", ctx.env.get("CMPY_DOWNLOAD_TIMEOUT", ""), _DEFAULT_TIMEOUT)
    total = _total_seconds("total_timeout", ctx.env.get("CMPY_DOWNLOAD_TOTAL_TIMEOUT", ""))
    retries = _count("retries", ctx.env.get("CMPY_DOWNLOAD_RETRIES", ""), _DEFAULT_RETRIES)
    got = ctx.run_sync(
        _ENTRY,
        url=url,
        sha256=sha256,
        md5=md5,
        filename=filename,
        unverified_url="" if sha256 or md5 else url,
        size="" if size is None else str(size),
        timeout=str(timeout),
        total_timeout="" if total is None else str(total),
        retries=str(retries),
    )
    if size is not None and got.env.get("CMPY_DOWNLOAD_SIZE") != str(size):
        # a cached entry (keyed on the checksum, not the size) of another size
        raise UsageError(
            f"size={size} was asked for, but the file {got.env.get('CMPY_DOWNLOAD_FILE_PATH')} "
            f"has {got.env.get('CMPY_DOWNLOAD_SIZE')} bytes",
            hint="check size= (or leave it out: the checksum identifies the file)",
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
        "size": Input("CMPY_DOWNLOAD_EXPECTED_SIZE", _SIZE_HELP, key=False),
        "timeout": Input("CMPY_DOWNLOAD_TIMEOUT", _TIMEOUT_HELP, key=False),
        "total_timeout": Input("CMPY_DOWNLOAD_TOTAL_TIMEOUT", _TOTAL_TIMEOUT_HELP, key=False),
        "retries": Input("CMPY_DOWNLOAD_RETRIES", "retries per source", key=False),
    },
    env={
        "CMPY_DOWNLOAD_CHECKSUM_SHA256": "",
        "CMPY_DOWNLOAD_CHECKSUM_MD5": "",
        "CMPY_DOWNLOAD_FILENAME": "",
        "CMPY_DOWNLOAD_UNVERIFIED_URL": "",
        "CMPY_DOWNLOAD_URL": "",
        "CMPY_DOWNLOAD_EXPECTED_SIZE": "",
        "CMPY_DOWNLOAD_TIMEOUT": "",
        "CMPY_DOWNLOAD_TOTAL_TIMEOUT": "",
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
    url = (
        ctx.env.get("CMPY_DOWNLOAD_URL", "").strip()
        or ctx.env.get("CMPY_DOWNLOAD_UNVERIFIED_URL", "").strip()
    )
    if not url:
        raise UsageError(
            f"{_ENTRY} has no URL to fetch the file from",
            hint='ask for it through "download file" with url=...',
        )
    given_size = ctx.env.get("CMPY_DOWNLOAD_EXPECTED_SIZE", "")
    got = ctx.download_sync(
        url,
        filename=filename or None,
        sha256=sha256 or None,
        md5=md5 or None,
        size=_size("size", given_size, none=False) if given_size.strip() else None,
        timeout=_seconds("timeout", ctx.env.get("CMPY_DOWNLOAD_TIMEOUT", ""), _DEFAULT_TIMEOUT),
        total_timeout=_total_seconds(
            "total_timeout", ctx.env.get("CMPY_DOWNLOAD_TOTAL_TIMEOUT", "")
        ),
        retries=_count("retries", ctx.env.get("CMPY_DOWNLOAD_RETRIES", ""), _DEFAULT_RETRIES),
    )
    env = {
        "CMPY_DOWNLOAD_FILE_PATH": os.path.abspath(got.path),
        # got.url shows no password (user:***@)
        "CMPY_DOWNLOAD_URL_USED": got.url,
        "CMPY_DOWNLOAD_SHA256": got.sha256,
        "CMPY_DOWNLOAD_SIZE": str(got.size),
    }
    if got.md5:
        env["CMPY_DOWNLOAD_MD5"] = got.md5
    return env


_EXTRACT_LIMIT_INPUTS = {
    name: Input(key, help, key=False) for name, (key, help) in _LIMIT_INPUTS.items()
}


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
        "allow_empty": _ALLOW_EMPTY,
        # limits refuse an archive or let it through: they never change the result
        **_EXTRACT_LIMIT_INPUTS,
    },
    env={
        "CMPY_EXTRACT_INPUT": "",
        "CMPY_EXTRACT_STRIP_COMPONENTS": "0",
        "CMPY_EXTRACT_TO": "extracted",
        "CMPY_EXTRACT_ALLOW_EMPTY": "",
        **{key: "" for key, _help in _LIMIT_INPUTS.values()},
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
    where = ctx.extract_sync(archive, ctx.path / to, strip_components=strip, **_extract_limits(ctx))
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
        "size": ("CMPY_DOWNLOAD_EXPECTED_SIZE", _SIZE_HELP),
        "timeout": ("CMPY_DOWNLOAD_TIMEOUT", _TIMEOUT_HELP),
        "total_timeout": ("CMPY_DOWNLOAD_TOTAL_TIMEOUT", _TOTAL_TIMEOUT_HELP),
        "retries": ("CMPY_DOWNLOAD_RETRIES", "retries per source after a transient error"),
        "strip_components": (
            "CMPY_EXTRACT_STRIP_COMPONENTS",
            "leading folders to drop from each member (default 0)",
        ),
        "allow_empty": _ALLOW_EMPTY,
        **_EXTRACT_LIMIT_INPUTS,
    },
    env={
        "CMPY_EXTRACT_STRIP_COMPONENTS": "0",
        "CMPY_EXTRACT_ALLOW_EMPTY": "",
        **{key: "" for key, _help in _LIMIT_INPUTS.values()},
    },
)
def download_and_extract(ctx: Ctx) -> dict[str, str]:
    """Download an archive (verified, cached) and extract it (cached per archive)."""
    archive = ctx.deps["download"]["CMPY_DOWNLOAD_FILE_PATH"]
    extracted = ctx.run_sync(
        "extract file",
        input=archive,
        strip_components=ctx.env.get("CMPY_EXTRACT_STRIP_COMPONENTS", "0"),
        allow_empty=ctx.env.get(_ALLOW_EMPTY[0], ""),
        **{name: ctx.env.get(key, "") for name, (key, _help) in _LIMIT_INPUTS.items()},
    )
    return {
        "CMPY_DAE_FILE_PATH": archive,
        "CMPY_DAE_EXTRACTED_PATH": extracted["CMPY_EXTRACT_EXTRACTED_PATH"],
    }
