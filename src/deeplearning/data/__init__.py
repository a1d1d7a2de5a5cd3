"""Data: the registry of data sets (files, mirrors, SHA-256 sums) and where their files are
found (`registry`), downloading and verifying them (`download`), the IDX format MNIST ships in
(`idx`), and loading them into arrays and mini-batches (`datasets`)."""

from .datasets import Dataset, LabelError, load_mnist, minibatches
from .download import ChecksumError, DownloadSizeError, download_dataset
from .idx import IDXFormatError, read_idx
from .registry import DATASETS, DatasetInfo, DatasetNotFoundError, dataset_info, locate

__all__ = [
    "DATASETS",
    "ChecksumError",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DownloadSizeError",
    "IDXFormatError",
    "LabelError",
    "dataset_info",
    "download_dataset",
    "load_mnist",
    "locate",
    "minibatches",
    "read_idx",
]
