"""tonic 1.7.0's readers for N-MNIST, DVSGesture and CIFAR10-DVS, kept from downloading.

tonic's constructors call ``download()`` whenever ``_check_exists()`` fails, and those checks want
the downloaded archive beside the extracted files plus a minimum file count (N-MNIST: train.zip
and 10000 .bin files). These subclasses swap in our check of the extracted files (which raises
``DatasetNotFoundError``) and make ``download`` raise as well. They keep tonic's class names,
because tonic reads from ``<save_to>/<class name>``, and they list files in sorted order (tonic
keeps ``os.walk``'s order for some sets), so a seeded split picks the same files everywhere.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import tonic.datasets

from datasets.files import check_files, not_found


class _Local:
    autost_name: str
    location_on_system: str

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        order = np.argsort(np.asarray(self.data, dtype=str), kind="stable")
        for attr in ("data", "targets", "users", "lighting"):
            values = getattr(self, attr, None)
            if values is not None and len(values) == len(order):
                setattr(self, attr, [values[i] for i in order])

    def _check_exists(self) -> bool:
        check_files(self.autost_name, Path(self.location_on_system).parent)
        return True

    def download(self) -> None:
        raise not_found(self.autost_name, Path(self.location_on_system).parent)


class NMNIST(_Local, tonic.datasets.NMNIST):
    autost_name = "nmnist"


class DVSGesture(_Local, tonic.datasets.DVSGesture):
    autost_name = "dvsgesture"


class CIFAR10DVS(_Local, tonic.datasets.CIFAR10DVS):
    autost_name = "cifar10dvs"


READERS = {"nmnist": NMNIST, "dvsgesture": DVSGesture, "cifar10dvs": CIFAR10DVS}


def require_aedat() -> None:
    """tonic decodes CIFAR10-DVS's .aedat4 files with the ``aedat`` package, imported on first read."""
    if importlib.util.find_spec("aedat") is None:
        raise ModuleNotFoundError("reading CIFAR10-DVS needs the 'aedat' package (pip install aedat)")
