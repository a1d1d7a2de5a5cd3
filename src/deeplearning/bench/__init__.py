"""The benchmarks against PyTorch behind ``python -m deeplearning bench``: the MLP workloads and
scaling (`mlp`), LeNet-5 (`cnn`), nanoGPT's baby GPT (`baby_gpt`), inference here, in PyTorch
and in ONNX Runtime (`inference`), their synthetic data
(`synthetic`), the busy-core case (`busy`), and the timing and profiling they share
(`timing`)."""

from .baby_gpt import run_gpt_benchmark
from .busy import busy_core
from .cnn import run_cnn_benchmark
from .inference import run_inference_benchmark
from .mlp import run_benchmark, run_scaling
from .synthetic import synthetic_mnist

__all__ = [
    "busy_core",
    "run_benchmark",
    "run_cnn_benchmark",
    "run_gpt_benchmark",
    "run_inference_benchmark",
    "run_scaling",
    "synthetic_mnist",
]
