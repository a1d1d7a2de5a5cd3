"""The ``gpt`` benchmark on a tiny GPT: its data, the structure and sanity of its report (never
a speed), and the profile split it relies on."""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pytest

from deeplearning.bench.baby_gpt import (
    PARTS,
    SETTINGS,
    GptResult,
    random_windows,
    run_gpt_benchmark,
    synthetic_text,
)
from deeplearning.bench.timing import profile_split

TINY = {"vocab_size": 11, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 16,
        "dropout": 0.0, "bias": False}  # fmt: skip
NEW_TOKENS = (6, 12)  # one run that fits the block of 8, one cropped to it


def _tiny() -> GptResult:
    return run_gpt_benchmark(1, 2, config=TINY, batch_size=2, new_tokens=NEW_TOKENS)


@pytest.fixture(scope="module")
def result() -> GptResult:
    return _tiny()


def test_synthetic_text_is_seeded_and_learnable() -> None:
    text = synthetic_text(20_000, 11, seed=0)
    assert text.shape == (20_000,) and text.dtype == np.int64
    assert text.min() >= 0 and text.max() <= 10
    np.testing.assert_array_equal(text, synthetic_text(20_000, 11, seed=0))
    assert not np.array_equal(text, synthetic_text(20_000, 11, seed=1))
    pairs = np.zeros((11, 11))
    np.add.at(pairs, (text[:-1], text[1:]), 1)
    successor = pairs / pairs.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(pairs * np.log(successor)) / pairs.sum()
    assert entropy < 0.8 * np.log(11)  # the next token is far from uniform: learnable
    with pytest.raises(ValueError, match="synthetic_text: length must be an int >= 1"):
        synthetic_text(0, 11, seed=0)


def test_random_windows_are_nanogpts_batches() -> None:
    text = np.arange(100)
    x, y = random_windows(text, 5, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # consecutive tokens of the text
    np.testing.assert_array_equal(y, x + 1)  # the targets: one token on
    assert y.max() < 100


def test_every_iteration_time_is_positive_and_every_ratio_comes_from_them(
    result: GptResult,
) -> None:
    paths = ["layers", "engine"] + (["PyTorch"] if result.torch_version else [])
    assert list(result.seconds) == list(SETTINGS)
    for setting, times in result.seconds.items():
        assert list(times) == paths
        assert all(len(runs) == 1 and runs[0] > 0 for runs in times.values())
        for path in paths:
            for other in paths:
                expected = statistics.median(times[path]) / statistics.median(times[other])
                assert result.ratio(setting, path, other) == pytest.approx(expected)
    assert result.iterations == 2 and result.batch_size == 2 and result.config == TINY


def test_the_split_covers_the_profiled_iteration_without_overlap(result: GptResult) -> None:
    assert list(result.split) == [*PARTS, "the rest"]
    assert all(seconds >= 0 for seconds in result.split.values()), result.split
    total = sum(result.split.values())
    assert 0 < total <= result.profiled * 1.05  # the profile's time is within its wall time
    assert 0 < result.attention_products <= result.split["matrix products"]


def test_memory_and_generation_are_measured(result: GptResult) -> None:
    assert set(result.peak_bytes) == {"layers", "engine"}
    assert all(peak > 0 for peak in result.peak_bytes.values())
    assert list(result.generation) == list(NEW_TOKENS)
    kinds = ["cache", "no cache"] + (["PyTorch (no cache)"] if result.torch_version else [])
    for speeds in result.generation.values():
        assert list(speeds) == kinds
        assert all(len(runs) == 1 and runs[0] > 0 for runs in speeds.values())
    assert result.same_tokens  # greedy: the cache changes no token


def test_the_report_gives_each_figure_with_its_threads(result: GptResult) -> None:
    report = result.report()
    for text in ("BLAS threads here: 1 and", "one thread each", "each library's default",
                 "target at one thread: engine/layers <= 1.2x", "traced, one thread",
                 "peak memory one iteration allocates", "6 new tokens (fits the block)",
                 "12 new tokens (cropped to the last 8 tokens)",
                 "the cache gives the same tokens as without it: yes"):  # fmt: skip
        assert text in report, text
    if result.torch_version:
        assert "target at one thread: layers/PyTorch <= 1.5x, goal 1.0x" in report
        assert f"PyTorch {result.torch_version}: 1 and {result.torch_threads}" in report


def test_without_pytorch_the_benchmark_times_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    result = _tiny()
    assert result.torch_version is None
    assert all(list(times) == ["layers", "engine"] for times in result.seconds.values())
    assert all("PyTorch (no cache)" not in speeds for speeds in result.generation.values())
    report = result.report()
    assert "PyTorch is not installed" in report and "layers/PyTorch" not in report


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"repeats": 0}, ValueError, "run_gpt_benchmark: repeats must be an int >= 1"),
        ({"iterations": 1.5}, TypeError, "run_gpt_benchmark: iterations must be an int"),
        ({"new_tokens": (6, 0)}, ValueError, "each of new_tokens must be an int >= 1"),
        ({"config": {**TINY, "dropout": 0.1}}, ValueError, "no dropout .* pass dropout=0.0"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        run_gpt_benchmark(**{"config": TINY, **kwargs})


def test_a_part_leaves_out_its_calls_into_parts() -> None:
    """profile_split: a part counted with its calls leaves out those into another part's
    functions (and into its own, counted once), so the parts and the rest add up."""

    def inner() -> None:
        time.sleep(0.05)

    def helper() -> None:
        inner()

    def outer() -> None:
        time.sleep(0.01)
        inner()
        helper()
        outer_again()

    def outer_again() -> None:
        time.sleep(0.01)

    parts = {"outer": ([outer, outer_again], True), "inner": ([inner], True)}
    split = profile_split(lambda warmup: outer(), parts)
    assert split["inner"] >= 0.1  # both calls, the one through helper too
    assert 0.02 <= split["outer"] < split["inner"]  # its own sleeps, once; not inner's
    assert split["the rest"] >= 0
