"""An output folder owned by one run at a time.

``claim(out)`` checks that ``out`` is (or can become) a writable folder, then holds an exclusive
``fcntl.flock`` on the folder itself for as long as the run lasts. A second run into the same
folder (a second ``--resume`` included) is refused at once instead of silently replacing the
first one's files. The kernel drops the lock when the process ends, however it ends (kill -9
too), so a killed run never leaves the folder stuck; and since the lock is on the folder, not
on a file in it, nothing is left behind to clean up.
"""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from autost.errors import UsageError


def _unusable(out: Path, err: OSError) -> UsageError:
    reason = os.strerror(err.errno) if err.errno else type(err).__name__
    fix = "a shorter path" if err.errno == errno.ENAMETOOLONG else "a writable folder"
    return UsageError(f"--out {out} cannot hold results ({reason}); choose {fix}")


def out_exists(out: Path) -> bool:
    """``out.exists()``, with a path the system cannot even look up (a name too long) a ``UsageError``."""
    try:
        return out.exists()
    except OSError as err:
        raise _unusable(out, err) from None


def check_writable(out: str | Path) -> Path:
    """Create ``out`` if needed and prove it takes files; anything else is a one-line ``UsageError``.
    An empty path is refused too: it would be the current folder."""
    if not str(out).strip():
        raise UsageError("--out must be a non-empty path (a folder for the results)")
    out = Path(out)
    if out_exists(out) and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder; choose a folder for the results")
    try:
        out.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root and knows nothing of read-only mounts: try a real file.
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise _unusable(out, err) from None
    return out


@contextmanager
def claim(out: str | Path) -> Iterator[Path]:
    """Hold ``out`` for the duration of the ``with`` block (see the module docstring). A folder
    this call created is removed again if the run fails while it is still empty (bad input
    found after the claim leaves nothing behind)."""
    created = not out_exists(Path(out))
    out = check_writable(out)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise UsageError(f"--out {out} is in use by another run; wait for it to finish or choose "
                             "another --out") from None
        yield out
    except BaseException:
        if created:
            try:
                out.rmdir()  # only succeeds while empty
            except OSError:
                pass
        raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock
