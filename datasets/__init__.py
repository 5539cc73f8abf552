"""Dataset loaders: the embedded digits and ndigits, CIFAR-10/100 binaries, and tonic's event datasets."""
from datasets.errors import DatasetNotFoundError
from datasets.registry import KNOWN, DatasetInfo, check_available, dataset_info, get_dataset

__all__ = ["KNOWN", "DatasetInfo", "DatasetNotFoundError", "check_available", "dataset_info", "get_dataset"]
