"""One writer per output folder: a lock the kernel drops when its process dies.

``flock`` is released when the holding process exits, however it exits, so a
lock left by a killed crawl is taken over by the next one without a word.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = ".hfspider.lock"


class Busy(Exception):
    """Another live crawl holds the folder; the message says which process and what to do."""


class FolderLock:
    """An exclusive lock on ``folder``, held until ``release`` or the end of the process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._file: IO[str] | None = None

    def acquire(self) -> FolderLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            file = (self.folder / LOCK_FILE).open("a+", encoding="utf-8")
        except OSError as error:
            raise OSError(f"cannot write to {self.folder} ({error.strerror or error}); give a writable folder") from None
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise Busy(
                f"another crawl ({holder}) is writing to {self.folder}; wait for it to end, or give this one another -s HFSPIDER_OUTPUT"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()}")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
