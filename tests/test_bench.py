"""The benchmark's own pieces: its synthetic data and its busy-machine case."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from deeplearning.bench.busy import busy_core
from deeplearning.bench.synthetic import INK, synthetic_mnist
from deeplearning.losses import CrossEntropyLoss
from deeplearning.mnist_mlp import TwoLayerMLP
from deeplearning.optim import SGD
from deeplearning.optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from deeplearning.training.loop import train_epoch


def test_synthetic_mnist_is_mnist_shaped_seeded_and_balanced() -> None:
    x, y = synthetic_mnist(6400, seed=0)
    assert x.shape == (6400, 784) and x.dtype == np.float32 and y.shape == (6400,)
    assert x.min() == 0 and x.max() < 1
    assert abs(np.count_nonzero(x) / x.size - INK) < 0.01
    counts = np.bincount(y, minlength=10)
    assert len(counts) == 10 and counts.min() > 6400 / 10 / 2  # every class, none rare
    again_x, again_y = synthetic_mnist(6400, seed=0)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    assert not np.array_equal(synthetic_mnist(6400, seed=1)[1], y)
    for empty in (0, -1):
        with pytest.raises(ValueError, match="synthetic_mnist: samples must be an int >= 1"):
            synthetic_mnist(empty, seed=0)


def test_synthetic_mnist_allocates_little_beyond_its_images() -> None:
    tracemalloc.start()
    try:
        x, _ = synthetic_mnist(20_000, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - x.nbytes < 20 * 2**20  # a block of ink at a time, not a second data set


def test_the_recipe_learns_synthetic_mnist_without_subnormal_state() -> None:
    """The default recipe's optimizer on the benchmark's data: it learns, and its momentum
    never decays into subnormal floats (slow on Intel processors: the benchmark would time
    them rather than training)."""
    x, y = synthetic_mnist(12_800, seed=0)
    model = TwoLayerMLP(rng=0)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = LRScheduler(optimizer, CosineAnnealingLR(0.05, T_max=3 * 200))
    rng = np.random.default_rng(0)
    tiny = np.finfo(np.float32).tiny
    for _ in range(3):
        loss, accuracy = train_epoch(
            model, CrossEntropyLoss(), optimizer, x, y, rng=rng, scheduler=scheduler
        )
        for name, state in optimizer.state_dict().items():
            subnormal = (state != 0) & (np.abs(state) < tiny)
            assert not subnormal.any(), name
    assert accuracy > 0.5 and loss < 1.5  # chance: 0.1 and ln 10 = 2.3


def test_busy_core_spins_a_process_only_inside_the_block() -> None:
    with busy_core(False) as nothing:
        assert nothing is None
    with busy_core() as spinner:
        assert spinner is not None and spinner.poll() is None  # running
    assert spinner.poll() is not None  # killed and reaped
    with pytest.raises(KeyboardInterrupt), busy_core() as spinner:
        raise KeyboardInterrupt  # Ctrl-C during the benchmark
    assert spinner is not None and spinner.poll() is not None


def test_the_spinner_is_out_of_reach_of_ctrl_c() -> None:
    """Ctrl-C signals the terminal's process group: the spinner is in a session of its own."""
    with busy_core() as spinner:
        assert spinner is not None
        assert os.getsid(spinner.pid) == spinner.pid != os.getsid(0)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux's /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_the_spinner_ends_when_the_benchmark_is_killed_outright() -> None:
    code = (
        "import time\nfrom deeplearning.bench.busy import busy_core\n"
        "with busy_core() as spinner:\n    print(spinner.pid, flush=True)\n    time.sleep(60)\n"
    )
    benchmark = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert benchmark.stdout is not None
    spinner = int(benchmark.stdout.readline())
    assert _running(spinner)
    benchmark.send_signal(signal.SIGKILL)  # no finally block runs
    benchmark.wait()
    deadline = time.monotonic() + 10
    while _running(spinner) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(spinner), "the spinner outlived the benchmark"
