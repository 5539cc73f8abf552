"""Dataset loaders: the embedded digits and ndigits, CIFAR-10/100 binaries, MNIST and Fashion-MNIST IDX
files (and nfashion, their emulated events), and tonic's event datasets."""
from datasets.errors import DatasetNotFoundError
from datasets.registry import DATASETS, KNOWN, DatasetInfo, check_available, dataset_info, get_dataset

__all__ = ["DATASETS", "KNOWN", "DatasetInfo", "DatasetNotFoundError", "check_available", "dataset_info",
           "get_dataset"]
