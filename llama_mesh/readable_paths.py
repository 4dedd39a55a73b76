"""The one rule for the local files a request may name (a RAG document, a dataset file), and the one way to open them.

A path is readable when it is absolute, holds no NUL byte, and resolves (symlinks followed) inside one of the
provider's allowed directories. The mesh's data dir holds its own files (the registry and the services' SQLite
databases, post-training work directories and checkpoints, uploaded files, certificates): inside it only the service's
own folder (`documents`, `datasets`) and an allowed directory that lies inside the data dir count, whatever else the
allowed directories are (the data dir itself, or a directory above it, opens none of its files).

The check resolves the path and the file is opened after it, so whoever may write inside an allowed directory could,
in between, put a symlink where a directory or the file of the checked path was (a link to the data dir, say).
`open_checked` therefore walks the resolved path from the root one name at a time, each opened in the directory opened
before it and never through a symlink (O_NOFOLLOW): the file it opens is the one at the path that was checked, or it
opens none (PathChanged). Only a regular file opens (a FIFO would block its reader for ever), and only one with a
single name: a hard link in an allowed directory is the very file it links, and no check of its path can tell that this
file is not one of the mesh's own (SeveralNames; the kernel's `fs.protected_hardlinks` keeps other users from linking
files they could not write, not the mesh's own user or a file left writable).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from llama_mesh.runtime.errors import InvalidArgument

# Directories on the way are opened only to be walked through (O_PATH where there is one: no read permission needed).
_WALK = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO must not block the open


@dataclass(frozen=True)
class LocalFiles:
    """One kind of file a service reads from paths that callers name: the data dir's folder for them, and what the
    refusals say (`{uri!r}` in them is the path as the caller gave it)."""

    folder: str
    nul: str
    not_absolute: str
    in_data_dir: str
    outside: str


class PathChanged(OSError):
    """A symlink where the checked path had a directory or the file: the path changed after it was checked."""

    def __init__(self) -> None:
        super().__init__(
            errno.ELOOP, "the path changed after it was checked (a symlink took the place of a part of it)"
        )


class SeveralNames(OSError):
    """A regular file with more than one name (hard link): one of its other names could be one of the mesh's files."""

    def __init__(self, links: int) -> None:
        super().__init__(
            errno.EMLINK,
            f"the file has {links} names (hard links), and another could be one of the mesh's own files: copy it into "
            "the allowed directory to have it read",
        )


def readable_path(
    uri: str, field: str, kind: LocalFiles, allowed_dirs: tuple[Path, ...], data_dir: Path | None
) -> Path:
    """The resolved file a file:// URI or an absolute path names, if the rule (see the module doc) lets the service
    read it; INVALID_ARGUMENT naming `field` otherwise (reason PATH_NOT_ALLOWED for a path outside), before anything is
    read."""
    raw = unquote(urlparse(uri).path) if uri.startswith("file://") else uri
    if "\x00" in raw:
        raise InvalidArgument(field, kind.nul.format(uri=uri))
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidArgument(field, kind.not_absolute.format(uri=uri))
    resolved = path.resolve()
    roots = tuple(root.resolve() for root in allowed_dirs)
    if data_dir is not None:
        data = data_dir.resolve()
        opened = (data / kind.folder, *(root for root in roots if root != data and root.is_relative_to(data)))
        if resolved.is_relative_to(data) and not any(resolved.is_relative_to(root) for root in opened):
            raise InvalidArgument(field, kind.in_data_dir.format(uri=uri), reason="PATH_NOT_ALLOWED")
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InvalidArgument(field, kind.outside.format(uri=uri), reason="PATH_NOT_ALLOWED")
    return resolved


def open_checked(path: Path, mode: str = "rb", **options: Any) -> IO[Any]:
    """The regular file at `path` (absolute and resolved, as `readable_path` returns it), opened with `open`'s `mode`
    and `options` without following a symlink anywhere on the way (blocking: callers run it in a worker thread).
    PathChanged where a symlink is met, SeveralNames for a file with hard links, OSError as `open` raises it otherwise
    (FileNotFoundError...)."""
    if not path.is_absolute():
        raise ValueError(f"{path} is not absolute")
    if len(path.parts) < 2:  # the root
        raise OSError(errno.EISDIR, "not a regular file")
    *directories, name = path.parts[1:]
    directory = os.open(path.anchor, _WALK)
    try:
        for part in directories:
            inner = _open_in(directory, part, _WALK)
            os.close(directory)
            directory = inner
        descriptor = _open_in(directory, name, _OPEN)
    finally:
        os.close(directory)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if status.st_nlink > 1:
            raise SeveralNames(status.st_nlink)
    except BaseException:
        os.close(descriptor)
        raise
    return open(descriptor, mode, **options)  # the caller closes it


def _open_in(directory: int, name: str, flags: int) -> int:
    try:
        return os.open(name, flags, dir_fd=directory)
    except OSError as exc:  # ELOOP for a symlink opened as the file, ENOTDIR for one opened as a directory
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_symlink(directory, name):
            raise PathChanged() from exc
        raise


def _is_symlink(directory: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except OSError:
        return False
