"""Pictures of a recorded graph: `to_dot` writes Graphviz DOT text, `plot_graph` renders it.

Boxes are tensors the graph starts from (blue: they require a gradient, named when ``params``
names them; grey: constants); ellipses are operations, with the shape of what they output; the
output is the green box. Names are shown as they are, whatever characters they hold (`_label`
escapes what DOT would read otherwise). Arrows follow the forward computation::

    from deeplearning.autograd import plot_graph
    plot_graph(loss, "graph.svg", params=dict(model.named_parameters()))
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..core.atomic import atomic_write
from ..core.tensor import Tensor
from ..core.types import PathLike
from .backprop import topological_order

FORMATS = ("svg", "png", "pdf", "dot")
"""What `plot_graph` writes, by the path's suffix."""


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed; the DOT text was written instead."""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


_ESCAPES = {code: f"\\\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_ESCAPES.update({ord("\\"): "\\\\", ord('"'): '\\"', ord("&"): "&amp;", ord("\n"): "\\n"})
"""How `_label` writes each character that DOT or Graphviz would not show as it is."""


def _label(*lines: str) -> str:
    """A DOT label, in double quotes, that Graphviz shows as ``lines``, one under the other.

    Inside DOT's quotes a ``"`` ends the text and a backslash starts an escape (``\\n`` is a
    line break, ``\\N`` the node's name), Graphviz reads ``&lt;`` as ``<``, and a NUL ends the
    file: so a backslash, a quote and ``&`` are escaped, a line break inside a line becomes
    ``\\n`` too, and the other control characters are shown as their codes (``\\x00``).
    ``<`` and ``>`` need nothing: they are markup only in a label not in quotes.
    """
    return '"' + "\\n".join(line.translate(_ESCAPES) for line in lines) + '"'


def to_dot(output: Tensor, params: Mapping[str, Tensor] | None = None) -> str:
    """Graphviz DOT text of the graph that computed ``output`` (before its backward pass frees it).

    Parameters
    ----------
    output : Tensor
        The end of the graph, e.g. a loss.
    params : mapping of str to Tensor, optional
        Names for leaf tensors, e.g. ``dict(model.named_parameters())``.
    """
    names = {id(tensor): name for name, tensor in (params or {}).items()}
    lines = [
        "digraph autograd {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    try:
        order = topological_order(output)
    except RuntimeError:  # a node whose saved inputs a backward pass freed
        raise RuntimeError(
            "the graph was freed by a backward pass: draw it before backward(), or pass "
            "retain_graph=True to backward()"
        ) from None
    out_shapes = {}
    for node in order:
        for x in node.saved_inputs():
            if x.creator is not None:
                out_shapes[id(x.creator)] = x.shape
    if output.creator is not None:
        out_shapes[id(output.creator)] = output.shape
    drawn: set[int] = set()
    for node in order:
        shape = _shape(out_shapes[id(node)])
        lines.append(f"  f{id(node)} [label={_label(node.label(), shape)}, shape=ellipse];")
        for x in node.saved_inputs():
            if x.creator is not None:
                lines.append(f"  f{id(x.creator)} -> f{id(node)};")
                continue
            if id(x) not in drawn:
                drawn.add(id(x))
                name = names.get(id(x), "" if x.requires_grad else "constant")
                colour = "lightblue" if x.requires_grad else "lightgrey"
                label = _label(name, _shape(x.shape)) if name else _label(_shape(x.shape))
                lines.append(
                    f"  t{id(x)} [label={label}, shape=box, style=filled, fillcolor={colour}];"
                )
            lines.append(f"  t{id(x)} -> f{id(node)};")
    lines.append(
        f"  output [label={_label('output', _shape(output.shape))}, shape=box, style=filled, "
        "fillcolor=palegreen];"
    )
    source = f"f{id(output.creator)}" if output.creator is not None else f"t{id(output)}"
    if output.creator is None:
        lines.append(f"  t{id(output)} [label={_label(_shape(output.shape))}, shape=box];")
    lines.append(f"  {source} -> output;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_graph(output: Tensor, path: PathLike, params: Mapping[str, Tensor] | None = None) -> Path:
    """Draw the graph of ``output`` into ``path`` (.svg, .png or .pdf with Graphviz's ``dot``
    program; .dot for the text alone). Returns the path written.

    Raises
    ------
    ValueError
        For another suffix (before anything is written).
    FileNotFoundError
        If the folder of ``path`` does not exist (before anything is written).
    GraphvizNotFoundError
        If ``dot`` is not installed: the DOT text is then written beside ``path`` (same name,
        suffix .dot) and the message says how to install Graphviz.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(
            f"plot_graph writes {', '.join('.' + f for f in FORMATS)} files, not {path.name!r}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    dot_text = to_dot(output, params)
    program = shutil.which("dot")
    if fmt == "dot" or program is None:
        dot_path = path.with_suffix(".dot")
        with atomic_write(dot_path, "w") as stream:
            stream.write(dot_text)
        if fmt == "dot":
            return dot_path
        raise GraphvizNotFoundError(
            f"Graphviz's `dot` program is not installed, so {path} was not drawn; the DOT text "
            f"is in {dot_path}. Install Graphviz (Debian/Ubuntu: apt-get install graphviz; "
            f"macOS: brew install graphviz), then run: dot -T{fmt} {dot_path} -o {path}"
        )
    rendered = subprocess.run(
        [program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, check=False
    )
    if rendered.returncode != 0:
        raise RuntimeError(f"dot failed: {rendered.stderr.decode(errors='replace').strip()}")
    with atomic_write(path) as stream:
        stream.write(rendered.stdout)
    return path
