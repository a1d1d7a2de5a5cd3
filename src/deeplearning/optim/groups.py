"""Parameter groups, as PyTorch's: parts of a model trained with options of their own.

An optimizer takes a list of Parameters (one group, with the constructor's options) or a list
of groups, dicts that name their parameters under ``"params"`` and any options they set; an
option a group does not name is the constructor's::

    decay = [p for p in model.parameters() if p.data.ndim >= 2]     # weights
    no_decay = [p for p in model.parameters() if p.data.ndim < 2]   # biases, norms
    opt = AdamW([{"params": decay, "weight_decay": 0.1},
                 {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))
    opt.param_groups[1]["weight_decay"]     # 0.0
    opt.param_groups[1]["lr"]               # 0.001, the constructor's

`build_param_groups` checks what came and gives ``optimizer.param_groups``: one dict per group
holding ``"params"`` (a list) and every option of the optimizer. Each parameter belongs to one
group, and ``optimizer.params`` lists them all, group after group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any, Callable, Union, cast

from ..core.module import Parameter
from ..core.tensor import Tensor

ParamsOrGroups = Iterable[Union[Parameter, Mapping[str, Any]]]
"""What an optimizer trains: Parameters (one group), or groups ``{"params": [...], ...}`` (not
both: a list of either)."""

CheckOptions = Callable[[Mapping[str, Any], str], None]
"""An optimizer's check of one group's options (``options``, the owner for the message)."""

FIX = "pass model.parameters()"


def build_param_groups(
    params: ParamsOrGroups, defaults: Mapping[str, Any], check: CheckOptions, where: str
) -> list[dict[str, Any]]:
    """The parameter groups of an optimizer: ``[{"params": [...], **options}, ...]``.

    Parameters
    ----------
    params : iterable of Parameter, or list of dict
        Parameters, each once, in a fixed order (one group with the ``defaults``); or groups,
        each a dict with ``"params"`` (as above, not empty) and any of the options of
        ``defaults``, each parameter in one group.
    defaults : mapping
        The constructor's options (already checked): ``lr`` and the optimizer's others.
    check : callable
        ``check(options, where)`` refuses a group's options (the optimizer's one-line checks).
    where : str
        The optimizer's name, for the messages.

    Raises
    ------
    TypeError
        ``params`` is a single `Parameter`, a set, a dict or no iterable; an element is not a
        `Parameter` (or, among groups, not a dict); an option of the wrong type.
    ValueError
        No parameters, an empty group, a group without ``"params"`` or with an option the
        optimizer does not have, a parameter given twice (in one group or two), or an option
        out of its range.
    """
    given = _listed(params, where)
    if not given:
        raise ValueError(
            f"{where}: optimizer got an empty parameter list; {FIX} of a model that has "
            "parameters (one built before the optimizer, and not an exhausted generator)"
        )
    dicts = [i for i, item in enumerate(given) if isinstance(item, Mapping)]
    if not dicts:
        return [{"params": check_parameters(given, where), **defaults}]
    groups = cast("list[Mapping[str, Any]]", given)
    for i, group in enumerate(given):
        if not isinstance(group, Mapping):
            raise TypeError(
                f"{where}: params[{i}] is a {type(group).__name__}, but params[{dicts[0]}] is a "
                "parameter group (a dict): give a list of Parameters, or a list of groups such "
                "as [{'params': weights, 'weight_decay': 0.1}, {'params': biases}]"
            )
    for i, group in enumerate(groups):  # every group's options, before any parameter is read
        _check_keys(group, defaults, f"{where} param group {i}")
        check({**defaults, **group, "params": None}, f"{where} param group {i}")
    built: list[dict[str, Any]] = []
    owner: dict[int, tuple[int, int]] = {}  # id of a parameter: (its group, its index there)
    for i, group in enumerate(groups):
        members = check_parameters(group["params"], f"{where} param group {i}", empty=_EMPTY)
        for j, param in enumerate(members):
            if id(param) in owner:
                g, k = owner[id(param)]
                raise ValueError(
                    f"{where}: param group {i}'s params[{j}] is param group {g}'s params[{k}] "
                    f"(shape {param.data.shape}), so each step would update it twice: put each "
                    "parameter in one group"
                )
            owner[id(param)] = (i, j)
        options = {key: group.get(key, value) for key, value in defaults.items()}
        built.append({"params": members, **options})
    return built


_EMPTY = (
    "the group has no parameters; give each group at least one (an exhausted generator gives "
    "none), or leave the group out"
)


def check_parameters(params: object, where: str, empty: str = "") -> list[Parameter]:
    """``params`` as a list, refused unless it is a non-empty sequence of distinct
    `Parameter` (as PyTorch's ``Optimizer.add_param_group``); ``empty`` replaces the message
    for no parameters."""
    checked: list[object] = _listed(params, where)  # what came, whatever it is
    if not checked:
        raise ValueError(
            f"{where}: {empty}"
            if empty
            else f"{where}: optimizer got an empty parameter list; {FIX} of a model that has "
            "parameters (one built before the optimizer, and not an exhausted generator)"
        )
    first: dict[int, int] = {}
    for i, param in enumerate(checked):
        if not isinstance(param, Parameter):
            hint = (
                " (named_parameters() yields (name, parameter) pairs)"
                if isinstance(param, tuple)
                else ""
            )
            raise TypeError(
                f"{where}: optimizer can only optimize Parameters, but params[{i}] is "
                f"{type(param).__name__}{hint}; {FIX}"
            )
        if id(param) in first:
            raise ValueError(
                f"{where}: params[{i}] is params[{first[id(param)]}] given again (shape "
                f"{param.data.shape}), so each step would update it twice; give each "
                f"parameter once: {FIX}, which yields shared ones once"
            )
        first[id(param)] = i
    return cast("list[Parameter]", checked)


def _listed(params: object, where: str) -> list[object]:
    """``params`` as a list, refused (TypeError) if it is a single `Tensor`, a set, a dict or
    not iterable."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{where}: params must be an iterable of Parameters, got a single "
            f"{type(params).__name__}; {FIX}, or a list such as [weight]"
        )
    if isinstance(params, (Set, Mapping)) or not isinstance(params, Iterable):
        kind = (
            "a set, whose order changes between runs (the state is kept by position)"
            if isinstance(params, Set)
            else "a dict (parameter groups go in a list: [{'params': weights, 'lr': 0.1}, ...])"
            if isinstance(params, Mapping)
            else f"{type(params).__name__} {params!r}"
        )
        raise TypeError(
            f"{where}: params must be an ordered iterable of Parameters, got {kind}; "
            f"{FIX}, or a list"
        )
    return list(params)


def _check_keys(group: Mapping[Any, Any], defaults: Mapping[str, Any], where: str) -> None:
    """Refuse a group without ``"params"`` or naming an option the optimizer does not have."""
    takes = f"a group takes 'params' and any of {sorted(defaults)}"
    if "params" not in group:
        raise ValueError(
            f"{where} has no 'params' (it has {sorted(map(str, group))}): {takes}, such as "
            "{'params': weights, 'lr': 0.01}"
        )
    unknown = sorted(str(key) for key in group if key != "params" and key not in defaults)
    if unknown:
        raise ValueError(
            f"{where}: unknown option{'s' if len(unknown) > 1 else ''} {unknown}; {takes} "
            "(an option it does not name is the constructor's)"
        )
