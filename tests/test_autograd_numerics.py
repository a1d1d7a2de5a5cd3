"""The engine's numbers where the textbook formulas break down, against PyTorch (CPU).

Each table names cases where a naive formula gives another answer than PyTorch's:

- ``a ** b`` at a = 0, and for a < 0: ``0 * inf`` in the gradients (first and second order);
- float16 reductions, which PyTorch accumulates in float32: a float16 sum overflows past
  65504, stops growing at 2048 when it adds ones, and a count of 70000 is infinite;
- ``maximum``/``minimum`` and the ``max``/``min`` reductions with NaN, ties and signed zeros;
- graph pictures of parameters whose names hold DOT's own characters (no PyTorch here: the
  oracle is Graphviz, which must read the text and show the names as they are).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning.autograd import Function, Tensor, grad, to_dot
from deeplearning.autograd import functional as F


# -- the helper ----------------------------------------------------------------------------------
def _array(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient (either library's tensor, or None for no dependence) as a float64 array."""
    if g is None:
        return np.zeros(shape)
    data = g.data if isinstance(g, Tensor) else g.detach().numpy()
    return np.asarray(data, dtype=np.float64)


def _derivatives(
    library: str, torch: ModuleType, fn: Callable[..., Any], arrays: list[np.ndarray]
) -> list[np.ndarray]:
    """The output of ``fn``, the gradients of ``sum(out)`` with respect to every input, and the
    gradient of each of those gradients' sums with respect to every input (the second order,
    through a recorded backward pass), all as float64 arrays; ``library`` is "engine" or
    "torch", whose tensors (float64) ``fn`` is given."""
    if library == "engine":
        xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        y = fn(*xs)
        gs = grad(y, xs, grad_outputs=np.ones(y.shape), create_graph=True, allow_unused=True)

        def again(g: Any) -> tuple[Any, ...]:
            if g is None or not g.requires_grad:
                return (None,) * len(xs)
            return grad(g, xs, grad_outputs=np.ones(g.shape), retain_graph=True, allow_unused=True)

    else:
        xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
        y = fn(*xs)
        gs = torch.autograd.grad(y, xs, torch.ones_like(y), create_graph=True, allow_unused=True)

        def again(g: Any) -> tuple[Any, ...]:
            if g is None or not g.requires_grad:
                return (None,) * len(xs)
            return torch.autograd.grad(
                g, xs, torch.ones_like(g), retain_graph=True, allow_unused=True
            )

    results = [_array(y, y.shape)]
    results += [_array(g, a.shape) for g, a in zip(gs, arrays)]
    for g in gs:
        results += [_array(gg, a.shape) for gg, a in zip(again(g), arrays)]
    return results


def assert_like_torch(
    torch: ModuleType, engine_fn: Callable[..., Any], torch_fn: Callable[..., Any], *arrays: Any
) -> None:
    """The output and the first and second derivatives of ``engine_fn`` equal those of
    ``torch_fn``, in float64, NaN for NaN and inf for inf of the same sign."""
    inputs = [np.array(a, dtype=np.float64) for a in arrays]
    names = ["output"] + [f"d/dx{i}" for i in range(len(inputs))]
    names += [f"d/dx{j} d/dx{i}" for i in range(len(inputs)) for j in range(len(inputs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy says where it makes NaN or inf
        ours = _derivatives("engine", torch, engine_fn, inputs)
        theirs = _derivatives("torch", torch, torch_fn, inputs)
    for name, actual, expected in zip(names, ours, theirs):
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0, err_msg=name)


# -- a ** b at a = 0 and a < 0 -------------------------------------------------------------------
# (a, b), each a scalar tensor that requires a gradient, where the textbook formulas give
# 0 * inf (or 0 * log(0)) and PyTorch a number: 0 where b = 0 for ga, where a = 0 and b >= 0
# for gb; the second derivatives follow PyTorch's `where` masks.
POWER = {
    "0 ** 2: gb = 0, not 0 * -inf": (0.0, 2.0),
    "0 ** 1": (0.0, 1.0),
    "0 ** 0.5: ga = inf, gb = 0": (0.0, 0.5),
    "0 ** 0: ga = gb = 0": (0.0, 0.0),
    "-2 ** 0: ga = 0, d ga/db = 0": (-2.0, 0.0),
    "3 ** 0: d ga/db = 0": (3.0, 0.0),
}
# Where PyTorch's rule says inf or NaN, which the textbook formulas gave already: a = 0 with
# b < 0 (gb = -inf), and a < 0 (gb = NaN, from log(a)). They guard the masks above.
POWER_INF_AND_NAN = {
    "0 ** -1: gb = -inf": (0.0, -1.0),
    "-2 ** 2: gb = NaN": (-2.0, 2.0),
    "-2 ** 3": (-2.0, 3.0),
}


def _pow(x: Any, y: Any) -> Any:
    return x**y


@pytest.mark.parametrize("name", list(POWER))
def test_power_of_two_tensors_as_torch(torch: ModuleType, name: str) -> None:
    a, b = POWER[name]
    assert_like_torch(torch, _pow, _pow, [a], [b])


@pytest.mark.parametrize("name", list(POWER_INF_AND_NAN))
def test_power_keeps_torch_infinities_and_nan(torch: ModuleType, name: str) -> None:
    a, b = POWER_INF_AND_NAN[name]
    assert_like_torch(torch, _pow, _pow, [a], [b])


def test_power_of_the_number_zero_as_torch(torch: ModuleType) -> None:
    # PyTorch's pow(Scalar, Tensor): the exponent's gradient is 0 where b >= 0, -inf where b < 0.
    zero_to_the = lambda x: 0.0**x  # noqa: E731
    assert_like_torch(torch, zero_to_the, zero_to_the, [2.0, 0.5, 0.0, -1.0])


def test_power_gradients_at_zero_come_without_warnings() -> None:
    a, b = Tensor(np.array([0.0, 0.0]), True), Tensor(np.array([2.0, 0.0]), True)
    y = a**b
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ga, gb = grad(y, [a, b], grad_outputs=np.ones(2))
    np.testing.assert_array_equal(ga.data, [0.0, 0.0])
    np.testing.assert_array_equal(gb.data, [0.0, 0.0])


# -- float16 reductions --------------------------------------------------------------------------
def _halves(gen: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "70000 halves": np.full(70000, 0.5),
        "70000 x 2 halves": np.full((70000, 2), 0.5),
        "5000 x 3 ones": np.ones((5000, 3)),
        "uniform 300 x 400": gen.uniform(0, 1, (300, 400)),
        "normal 70000": gen.standard_normal(70000),
        "squares past 65504": np.array([0.0, 400.0, 400.0, 400.0]),
    }


FLOAT16 = [
    ("sum", "70000 x 2 halves", 0),  # NumPy's float16 sum along an axis: 1024
    ("sum", "5000 x 3 ones", 0),  # 2048: 2048 + 1 rounds back to 2048
    ("mean", "70000 halves", None),  # the count 70000 is inf in float16: 0
    ("mean", "70000 x 2 halves", 0),
    ("mean", "uniform 300 x 400", None),
    ("var", "normal 70000", None),
    ("var", "squares past 65504", None),  # 300**2 is inf in float16, the variance 30000 is not
]


@pytest.mark.parametrize(("name", "data", "axis"), FLOAT16)
def test_float16_reductions_accumulate_in_float32_as_torch(
    torch: ModuleType, name: str, data: str, axis: Any
) -> None:
    gen = np.random.default_rng(0)
    x = _halves(gen)[data].astype(np.float16)
    t = Tensor(x.copy(), requires_grad=True)
    y = getattr(t, name)(axis=axis)
    tt = torch.tensor(x, requires_grad=True)
    dims = tuple(range(x.ndim)) if axis is None else axis
    ty = torch.var(tt, dim=dims, correction=0) if name == "var" else getattr(tt, name)(dim=dims)
    assert y.dtype == np.float16 and ty.dtype == torch.float16
    dout = gen.uniform(0.5, 2.0, y.shape).astype(np.float16)
    (g,) = grad(y, [t], grad_outputs=dout)
    (tg,) = torch.autograd.grad(ty, [tt], torch.from_numpy(dout))
    assert g.dtype == np.float16
    # float16 has 11 significant bits. PyTorch rounds to float16 after each operation of a
    # backward pass, the engine once, so they differ by a few units in the last place of the
    # largest gradient (PyTorch's var gradient x - mean(x) loses the bits mean(x) lost).
    for what, ours, theirs in [("output", y.data, ty), ("gradient", g.data, tg)]:
        expected = theirs.detach().numpy().astype(np.float64)
        scale = float(np.abs(expected).max())
        assert np.isfinite(scale), f"{what}: PyTorch gives {scale}"
        np.testing.assert_allclose(
            ours.astype(np.float64), expected, rtol=2**-8, atol=2**-8 * scale, err_msg=what
        )


def test_float16_mean_of_70000_is_its_value() -> None:
    x = Tensor(np.full(70000, 0.5, np.float16), requires_grad=True)
    y = x.mean()
    assert y.item() == 0.5 and y.dtype == np.float16
    (g,) = grad(y, [x])
    assert g.dtype == np.float16
    np.testing.assert_array_equal(g.data, np.float16(1 / 70000))


# -- maximum and minimum with NaN, ties and signed zeros -----------------------------------------
NAN, INF = float("nan"), float("inf")
MAX_MIN_PAIRS = {
    "NaN in a": ([NAN], [1.0]),
    "NaN in b": ([1.0], [NAN]),
    "NaN in both": ([NAN], [NAN]),
    "NaN against inf": ([NAN], [INF]),
    "NaN, ties and winners, broadcast": ([[NAN], [1.0], [3.0]], [1.0, NAN, 3.0]),
}


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@pytest.mark.parametrize("name", list(MAX_MIN_PAIRS))
def test_maximum_minimum_with_nan_and_ties_as_torch(torch: ModuleType, op: str, name: str) -> None:
    a, b = MAX_MIN_PAIRS[name]
    assert_like_torch(torch, getattr(F, op), getattr(torch, op), a, b)


def test_maximum_with_a_constant_nan_gives_the_tensor_the_gradient(torch: ModuleType) -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = grad(F.maximum(x, np.array([NAN, 1.0])), [x], grad_outputs=np.ones(2))
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.maximum(tx, torch.tensor([NAN, 1.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(g.data, tx.grad.numpy())
    np.testing.assert_array_equal(g.data, [1.0, 1.0])


# The reductions follow torch.amax/amin: ties share the gradient equally (torch.max(x, dim)
# gives it to one index), and a slice whose maximum is NaN gives each element a NaN gradient.
REDUCTIONS = {
    "NaN in one row": ([[1.0, NAN, 3.0, NAN], [2.0, 5.0, 5.0, 1.0]], 1),
    "NaN in every column": ([[1.0, NAN], [NAN, 2.0], [3.0, 3.0]], 0),
    "all NaN": ([[NAN, NAN], [NAN, NAN]], None),
    "NaN among ties, all axes": ([[1.0, 5.0], [5.0, NAN]], None),
    "NaN, ties, infinities and signed zeros": (
        [[NAN, 1.0, 1.0], [5.0, 5.0, 1.0], [INF, INF, -INF], [-0.0, 0.0, -1.0]],
        1,
    ),
}


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_max_min_reductions_with_nan_as_torch_amax(torch: ModuleType, op: str, name: str) -> None:
    x, axis = REDUCTIONS[name]
    reduce = torch.amax if op == "max" else torch.amin
    dims = () if axis is None else axis
    assert_like_torch(torch, lambda t: getattr(t, op)(axis=axis), lambda t: reduce(t, dims), x)
    t = Tensor(np.array(x), requires_grad=True)
    y = getattr(t, op)(axis=axis)
    with warnings.catch_warnings():  # PyTorch's NaN comes without a warning: so does this one
        warnings.simplefilter("error")
        grad(y, [t], grad_outputs=np.ones(y.shape))


# -- graph pictures with names that need escaping ------------------------------------------------
# Names with characters that end or change a DOT string: the DOT text would not parse, or
# Graphviz would show another name.
AWKWARD_NAMES = {
    "a quote": 'say "hi"',
    "a backslash": "back\\slash",
    "a trailing backslash": "ends with \\",
    "DOT's escapes": "\\n \\l \\N \\G",
    "a newline": "two\nlines",
    "an entity": "&lt; &amp; &",
    "a NUL and a tab": "nul\x00tab\t",
}
# Names that DOT's quotes keep as they are, drawn with the others.
PLAIN_NAMES = ["<b>bold</b>", "<x>", "}; digraph x {", "poids é ∑ 😀"]


class _Doubling(Function):
    """``y = 2 x``, shown in pictures under a name that needs escaping."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def backward(self, gy: Any) -> tuple[Any, ...]:
        return (gy * 2,)

    def label(self) -> str:
        return 'Op "2x" \\ <&>\nsecond line'


def _graph(names: list[str], op: Callable[[Tensor], Tensor] = lambda t: t) -> str:
    """The DOT text of ``op(sum of parameters)``, one parameter of shape (2,) per name."""
    params = {name: Tensor(np.ones(2), requires_grad=True) for name in names}
    total = op(sum(params.values(), Tensor(np.zeros(2))))
    return to_dot(total.sum(), params)


def _shown(name: str) -> list[str]:
    """The lines Graphviz should show for ``name``: as it is, control characters as codes."""
    text = "".join(c if c == "\n" or c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    return text.split("\n")


STATEMENT = re.compile(
    r'^  (\w+ \[label="(?:[^"\\\n]|\\.)*", shape=\w+(, \w+=\w+)*\]|\w+ -> \w+);$'
)


def _rendered_labels(text: str) -> list[list[str]]:
    """The lines of text Graphviz draws in each node of the DOT ``text``; first, that DOT text
    is one statement a line, each label one DOT string (a quote or a backslash cannot end it
    early, nor a newline or a NUL split it), and, if Graphviz is installed, that it reads it."""
    assert "\x00" not in text
    lines = text.splitlines()
    assert lines[0] == "digraph autograd {" and lines[-1] == "}"
    for line in lines[3:-1]:
        assert STATEMENT.match(line), line
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed: the DOT text was checked alone")
    rendered = subprocess.run(["dot", "-Tjson"], input=text.encode(), capture_output=True)
    assert rendered.returncode == 0, rendered.stderr.decode(errors="replace")
    return [
        [op["text"] for op in node.get("_ldraw_", []) if op["op"] == "T"]
        for node in json.loads(rendered.stdout)["objects"]
    ]


@pytest.mark.parametrize("name", list(AWKWARD_NAMES))
def test_to_dot_escapes_parameter_names(name: str) -> None:
    labels = _rendered_labels(_graph([AWKWARD_NAMES[name]]))
    assert [*_shown(AWKWARD_NAMES[name]), "(2,)"] in labels


def test_to_dot_escapes_operation_names() -> None:
    labels = _rendered_labels(_graph(["x"], lambda t: _Doubling()(t)))
    assert ['Op "2x" \\ <&>', "second line", "(2,)"] in labels


def test_to_dot_shows_every_name_at_once_and_renders_to_svg() -> None:
    names = [*AWKWARD_NAMES.values(), *PLAIN_NAMES]
    text = _graph(names)
    labels = _rendered_labels(text)
    for name in names:
        assert [*_shown(name), "(2,)"] in labels, name
    svg = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True)
    assert svg.returncode == 0, svg.stderr.decode(errors="replace")
    assert b"say &quot;hi&quot;" in svg.stdout
    assert b"&lt;b&gt;bold&lt;/b&gt;" in svg.stdout
