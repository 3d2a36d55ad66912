"""One writer at a time per archive: an flock the kernel releases when the process dies."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from newsarchive.errors import LockedError

LOGGER = logging.getLogger(__name__)


class RunLock:
    """Exclusive lock on ``<archive>/lock``; ``wait`` seconds of patience (0: fail at once)."""

    def __init__(self, path: Path, *, wait: float = 0.0) -> None:
        self.path = path
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline and not waited:
                    waited = True
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                    LOGGER.warning(
                        "waiting up to %g s for the run holding %s%s",
                        self.wait, self.path.parent, f" (pid {holder})" if holder else "",
                    )  # fmt: skip
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                    os.close(fd)
                    raise LockedError(
                        f"another newsarchive run is using {self.path.parent}"
                        + (f" (pid {holder})" if holder else ""),
                        hint="wait for it to finish, or pass --wait to queue behind it",
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
