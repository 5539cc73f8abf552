"""On-disk caches: where they live, content keys, and atomic writes."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

ENV_VAR = "AUTOST_CACHE"


def cache_dir(sub: str, data_root: str | Path | None = None) -> Path:
    """``data_root/sub`` if a data root is given, else ``$AUTOST_CACHE/sub``, else ``~/.cache/autost/sub``."""
    if data_root is not None:
        base = Path(data_root)
    elif os.environ.get(ENV_VAR):
        base = Path(os.environ[ENV_VAR])
    else:
        base = Path.home() / ".cache" / "autost"
    return base.expanduser() / sub


def digest(*parts: str | bytes) -> str:
    """A short hex key over ``parts`` (each length-prefixed, so boundaries count)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:24]


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then move it into place with ``os.replace``,
    so readers see either no file or a complete one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
