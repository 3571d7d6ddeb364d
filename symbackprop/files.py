"""Writing files the careful way: never over a user's file unless asked, never half a file.

Every file is written whole or not at all: into a temporary file in the destination's folder,
then published under its name. Without ``force`` publishing is exclusive: the temporary file gets
the destination's name as a hard link, which fails if anything took that name meanwhile, so of
two writers racing for the same new file exactly one succeeds and the other gets
``FileExistsError`` (a file system without hard links is refused with a clear error, or use
``force``). With ``force`` the temporary file is renamed over the destination. An interruption
(Ctrl-C, or SIGTERM in the command line) leaves no temporary file behind.

A file's permissions are the ones any program gives a new file: 0666 less the user's umask (0644
with the usual umask 022); a file replaced with ``force`` keeps the permissions it had.

A destination that exists is refused unless ``force`` is given, whatever it is: a file, or a
symbolic link, even one that points nowhere. With ``force`` a symbolic link stays in place and the
file it points to is replaced (atomically, in that file's own folder, keeping its mode), so a
link into a shared folder keeps working; a link that points nowhere gets its file created. A
destination that is a folder is always refused, and so is a name ending with a path separator
(``new/`` names a folder). Only regular files are written: an existing destination that is
something else (a FIFO, a device, a socket), or a link to one, is refused even with ``force``.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_file(folder / "a.txt", "one").name
'a.txt'
>>> write_file(folder / "a.txt", "two")
Traceback (most recent call last):
...
FileExistsError: ...a.txt already exists; pass force (--force) to overwrite it
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import threading
from pathlib import Path

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask: from /proc on Linux, elsewhere by setting it and putting it straight
    back (under a lock, so this module's own threads never see the temporary value)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permissions a newly created file gets: 0666 less the umask."""
    return 0o666 & ~current_umask()


def _target(path: Path) -> Path:
    """Where the bytes go: ``path``, or for a symbolic link the file it points to."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def check_file_name(path) -> None:
    """Refuse a name that names a folder, not a file: one that ends with a path separator, or
    with ``.`` or ``..`` as its last part (``out.py/.`` is the folder ``out.py``, which ``Path``
    would quietly read as the file ``out.py``).

    >>> check_file_name("new/")
    Traceback (most recent call last):
    ...
    IsADirectoryError: new/ ends with '/', so it names a folder; give a file name, like new/output
    >>> check_file_name("out.py/.")
    Traceback (most recent call last):
    ...
    IsADirectoryError: out.py/. ends with '.', so it names a folder; give a file name, like out.py/output
    """
    shown = os.fsdecode(os.fspath(path))
    separators = tuple({os.sep, os.altsep or os.sep, "/"})
    last = shown
    for separator in separators:
        last = last.rsplit(separator, 1)[-1]
    if shown.endswith(separators):
        ending, folder = shown[-1], shown
    elif last in (".", ".."):
        ending, folder = last, shown[:-1] if last == "." else shown + "/"
    else:
        return
    raise IsADirectoryError(f"{shown} ends with {ending!r}, so it names a folder; give a file name, like {folder}output")


def _special(path: Path) -> str | None:
    """What ``path`` (or the file a link points to) is when it exists and is not a regular file
    or a folder: "a FIFO", "a device", "a socket"; else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return next((what for test, what in SPECIAL_FILES if test(mode)), None)


def needs_writing(path, content: str | bytes, force: bool = False, unchanged_ok: bool = False) -> bool:
    """Whether ``content`` must be written to ``path``; raise if it may not be: the name ends
    with a separator, the folder is missing, the destination is a folder or not a regular file
    (a FIFO, a device, a socket), or it exists (unless ``force``, or ``unchanged_ok`` and it
    holds ``content``)."""
    check_file_name(path)
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name, like {path / 'output'}")
    special = _special(path)
    if special:
        raise OSError(f"{path} is not a regular file ({special}); symbackprop writes regular files only")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist")
    if path.exists() or path.is_symlink():
        if unchanged_ok and path.is_file() and path.read_bytes() == data:
            return False
        if not force:
            what = "a symbolic link" if path.is_symlink() else "a file"
            raise FileExistsError(f"{path} already exists" + (f" ({what})" if path.is_symlink() else "")
                                  + "; pass force (--force) to overwrite it")
    target = _target(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{path} is a symbolic link into the folder {target.parent}, which does not exist")
    return True


NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EPERM),
                 getattr(errno, "EOPNOTSUPP", errno.EPERM)}


def _publish_new(temporary: str, path: Path, data: bytes, unchanged_ok: bool) -> None:
    """Give the finished ``temporary`` file the name ``path`` only if nothing has that name
    (a hard link is created atomically or not at all), then drop the temporary name."""
    try:
        os.link(temporary, path)
    except FileExistsError:  # another writer took the name after needs_writing looked
        if not (unchanged_ok and path.is_file() and not path.is_symlink() and path.read_bytes() == data):
            raise FileExistsError(f"{path} already exists; pass force (--force) to overwrite it") from None
    except OSError as error:
        if error.errno in NO_HARD_LINKS:
            raise OSError(f"the file system of {path.parent} has no hard links, which writing {path.name} "
                          "without replacing a file that appears meanwhile needs; pass force (--force) to write anyway") from None
        raise
    os.unlink(temporary)


def write_file(path, content: str | bytes, force: bool = False, unchanged_ok: bool = False) -> Path:
    """Write ``content`` to ``path`` atomically (a temporary file in the same folder, then, with
    ``force``, a rename over it; without, an exclusive hard link), if :func:`needs_writing` allows
    and requires it. Returns ``path``."""
    check_file_name(path)
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not needs_writing(path, data, force, unchanged_ok):
        return path
    target = _target(path)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)  # a replaced file keeps its permissions
    except FileNotFoundError:
        mode = new_file_mode()
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as error:  # the folder is not writable, or full: name the file asked for, not the temporary one
        raise type(error)(f"cannot write {path}: {(error.strerror or str(error)).lower()} (in the folder {target.parent})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)  # mkstemp makes the file private (0600)
        if force:
            os.replace(temporary, target)
        else:
            _publish_new(temporary, path, data, unchanged_ok)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
