"""Data: the registry of data sets (files, mirrors, SHA-256 sums), finding, downloading and
verifying them, the IDX format MNIST ships in, and mini-batches."""

from .datasets import DATASETS, Dataset, load_mnist, minibatches

__all__ = ["DATASETS", "Dataset", "load_mnist", "minibatches"]
