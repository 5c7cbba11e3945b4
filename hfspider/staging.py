"""Output that appears whole or not at all: a report folder, an export file or folder.

Everything is written beside its target under a ``.NAME.partial-*`` name and moved
into place when complete, so a failure or a kill leaves the earlier output as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def replaceable(folder: Path, ours: Callable[[Path], bool]) -> bool:
    """Whether ``folder`` may be replaced whole: absent, empty, or holding output ``ours`` recognises.

    A user's own folder given by mistake (``-o ~``) is never swept away.
    """
    if not folder.exists():
        return True
    return folder.is_dir() and (not any(folder.iterdir()) or ours(folder))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A temporary folder that replaces the folder ``target`` when the block ends without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    work.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the output is an ordinary folder
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(work, target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """A temporary file path that replaces the file ``target`` when the block ends without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
    os.close(handle)
    work = Path(name)
    work.chmod(0o666 & ~_umask())
    try:
        yield work
    except BaseException:
        work.unlink(missing_ok=True)
        raise
    os.replace(work, target)
