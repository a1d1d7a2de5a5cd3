"""The benchmarks against PyTorch behind ``python -m deeplearning bench``: the MLP workloads,
the busy-core case and scaling (`mlp`), and LeNet-5 (`cnn`)."""

from .cnn import run_cnn_benchmark
from .mlp import run_benchmark, run_scaling

__all__ = ["run_benchmark", "run_cnn_benchmark", "run_scaling"]
