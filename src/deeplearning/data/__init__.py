"""Data: the registry of data sets (files, mirrors, SHA-256 sums) and where their files are
found (`registry`), downloading and verifying them (`download`), the IDX format MNIST ships in
(`idx`), loading images into arrays and mini-batches (`datasets`), and text: a character
tokenizer and the text data sets (`text`), and examples for language models (`language`)."""

from .datasets import Dataset, LabelError, load_mnist, minibatches
from .download import ChecksumError, DownloadSizeError, download_dataset
from .idx import IDXFormatError, read_idx
from .language import bigram_counts, bigram_nll, context_dataset, get_batch
from .registry import (
    DATASETS,
    DatasetInfo,
    DatasetNotFoundError,
    dataset_info,
    dataset_names,
    locate,
)
from .text import (
    CharTokenizer,
    NameSplits,
    TextSplits,
    load_names,
    load_shakespeare,
    load_text,
)

__all__ = [
    "DATASETS",
    "CharTokenizer",
    "ChecksumError",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DownloadSizeError",
    "IDXFormatError",
    "LabelError",
    "NameSplits",
    "TextSplits",
    "bigram_counts",
    "bigram_nll",
    "context_dataset",
    "dataset_info",
    "dataset_names",
    "download_dataset",
    "get_batch",
    "load_mnist",
    "load_names",
    "load_shakespeare",
    "load_text",
    "locate",
    "minibatches",
    "read_idx",
]
