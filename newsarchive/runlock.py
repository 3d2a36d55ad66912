"""One writer at a time per archive: an flock the kernel releases when the process dies."""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import stat
import time
from pathlib import Path
from types import TracebackType

from newsarchive.errors import LockedError, UsageError

#: The longest --wait for another run (a week).
MAX_WAIT = 7 * 86_400

LOGGER = logging.getLogger(__name__)


class RunLock:
    """Exclusive lock on ``<archive>/lock``; ``wait`` seconds of patience (0: fail at once)."""

    def __init__(self, path: Path, *, wait: float = 0.0) -> None:
        if not (isinstance(wait, int | float) and math.isfinite(wait) and 0 <= wait <= MAX_WAIT):
            # nan never reaches a deadline: a --wait nan would wait for ever
            raise UsageError(f"--wait {wait}: not a number of seconds from 0 to {MAX_WAIT:,}")
        self.path = path
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_NONBLOCK: opening a FIFO put there must not hang; it is refused just below.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, "it is not a regular file (a FIFO, a device or a socket)")
        except OSError as exc:
            reason = "it is a directory" if isinstance(exc, IsADirectoryError) else exc.strerror or str(exc)
            raise UsageError(
                f"cannot use the lock file {self.path}: {reason}",
                hint="newsarchive needs a writable file there (the archive directory must be writable)",
            ) from None
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
                        f"another newsarchive run is using {self.path.parent}" + (f" (pid {holder})" if holder else ""),
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
