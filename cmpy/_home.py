"""Where cmpy keeps its state: ``CMPY_HOME``, else the user cache dir.

Its folders are made ``0700`` (the umask can only narrow that): a cache
holds what recipes downloaded and built, and the env they exported, which
other users of the machine have no business reading. State found damaged
is never deleted: it is moved to ``CMPY_HOME/damaged/<name>.<time>-<token>``
(:func:`move_aside`), so a user can look at it, and the tool goes on.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._errors import UsageError

__all__ = ["DAMAGED", "Damage", "home", "home_path", "make_dir", "move_aside", "not_writable", "warn"]

# the folder under CMPY_HOME where damaged state is moved
DAMAGED = "damaged"
_MODE = 0o700


class Damage:
    """Damaged state that was found, and what was done about it.

    (A plain class: a ``Record`` costs start-up time on every command, this is rarely made.)
    """

    __slots__ = ("moved_to", "note", "path", "repaired", "why")

    def __init__(
        self, path: str, why: str, moved_to: str | None = None, repaired: bool = False, note: str = ""
    ) -> None:
        self.path = path
        self.why = why
        self.moved_to = moved_to
        self.repaired = repaired
        self.note = note

    def __repr__(self) -> str:
        return f"Damage({self.path!r}, {self.why!r}, moved_to={self.moved_to!r}, repaired={self.repaired})"

    def __str__(self) -> str:
        text = f"{self.path} was damaged ({self.why})"
        if self.moved_to:
            text += f"; moved it to {self.moved_to}"
        if self.note:
            text += f"; {self.note}"
        return text


def home_path() -> str:
    """Where the cmpy home folder is (nothing is made): ``CMPY_HOME``, else the user cache dir."""
    explicit = os.environ.get("CMPY_HOME")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    # imported here: platformdirs costs ~15 ms of start-up when CMPY_HOME is set
    import platformdirs

    return platformdirs.user_cache_dir("cmpy", appauthor=False)


def home() -> str:
    """The cmpy home folder, made (mode ``0700``) if it is not there yet.

    ``CMPY_HOME`` overrides the platform's user cache dir, so each test and
    each experiment can have its own.

    Raises:
        UsageError: the path is a file, or a folder cannot be made there.
    """
    path = home_path()
    try:
        os.makedirs(path, _MODE, exist_ok=True)
    except OSError as exc:
        raise _unusable_home(path, bool(os.environ.get("CMPY_HOME")), exc) from None
    return path


def _unusable_home(path: str, explicit: bool, exc: OSError) -> UsageError:
    from ._errors import UsageError

    where = f"CMPY_HOME={path}" if explicit else f"the cmpy home folder {path}"
    hint = "point CMPY_HOME at a folder you can write (it is made if missing)"
    if os.path.exists(path) and not os.path.isdir(path):
        why = "is a file, not a folder"
        hint += ", or move that file away"
    elif isinstance(exc, NotADirectoryError | FileExistsError):
        why = "is inside a file, not a folder"
    else:
        why = f"cannot be created: {exc.strerror or exc}"
    return UsageError(f"{where} {why}", hint=hint)


def not_writable(path: str, exc: BaseException) -> UsageError:
    """The error for a write under ``CMPY_HOME`` that the file system refused."""
    from ._errors import UsageError

    return UsageError(
        f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}",
        hint="make CMPY_HOME writable, or point CMPY_HOME at a folder you can write",
    )


def make_dir(path: str) -> None:
    """Make a folder and any missing parents with mode ``0700`` (the umask may narrow it).

    (``os.makedirs`` gives the parents it makes the default mode.)

    Raises:
        FileExistsError: something that is not a folder is in the way.
        UsageError: the file system refused (no permission, read-only).
    """
    try:
        os.mkdir(path, _MODE)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            raise
        make_dir(parent)
        make_dir(path)
    except NotADirectoryError:
        raise FileExistsError(f"a file is in the way of {path}") from None
    except PermissionError as exc:
        raise not_writable(path, exc) from None
    except OSError as exc:
        import errno

        if exc.errno in (errno.EROFS, errno.EACCES, errno.ENOSPC):
            raise not_writable(path, exc) from None
        raise


def move_aside(path: str, root: str) -> str:
    """Move damaged state into ``root/damaged/`` under a new name; returns where it went.

    Raises:
        OSError: it could not be moved.
    """
    import time

    target_dir = os.path.join(root, DAMAGED)
    try:
        make_dir(target_dir)
    except FileExistsError:
        # a file called "damaged": keep it beside, under its own new name
        os.replace(target_dir, f"{target_dir}.{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}")
        make_dir(target_dir)
    name = os.path.basename(path.rstrip(os.sep)) or "state"
    target = os.path.join(target_dir, f"{name}.{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}")
    os.rename(path, target)
    return target


def warn(message: str) -> None:
    """One line on stderr (damaged state found and dealt with, so the command goes on)."""
    import sys

    sys.stderr.write(f"cmpy: warning: {message}\n")
