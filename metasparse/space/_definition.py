"""Space YAML files -> a plain definition dict -> a ConfigSpace.

A space file either defines parameters (spaces/meta.yaml) or derives from a base space with
`base`, narrowing it by `restrict` (a subset of choices, or a narrower range) and `fixed`
(constants). A parameter whose condition can no longer hold once its parent is fixed is dropped
together with its condition; a condition on a fixed parent that always holds is dropped too.
A defining space may sort its parameters into groups of axes (`axes`, which a derived space
inherits): a search of some groups holds the others at their defaults (`held_axes`).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    ForbiddenLessThanRelation,
    InCondition,
    OrdinalHyperparameter,
)
from ConfigSpace.conditions import AndConjunction

from metasparse._paths import shipped_dir
from metasparse.errors import ConfigError, invalid_choice

KINDS = ("categorical", "float", "int_log", "ordinal", "constant")
_SPACE_KEYS = {"name", "description", "base", "parameters", "conditions", "forbidden", "fixed",
               "restrict", "axes"}


def shipped_spaces() -> list[str]:
    """Names of the spaces shipped in spaces/ (presets.yaml excluded)."""
    return sorted(p.stem for p in shipped_dir("spaces").glob("*.yaml") if p.stem != "presets")


def space_path(spec: str | Path) -> Path:
    """A shipped space name or a path -> the path of its YAML file."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"space file {str(path)!r} does not exist")
        return path
    candidate = shipped_dir("spaces") / f"{spec}.yaml"
    if str(spec) == "presets" or not candidate.is_file():
        raise ConfigError(invalid_choice("space", shipped_spaces(), str(spec))
                          + " (or a path to a .yaml space file)")
    return candidate


def load_definition(spec: str | Path) -> dict[str, Any]:
    """The resolved definition (parameters, conditions, forbidden) of a space file."""
    return copy.deepcopy(_load_definition(space_path(spec).resolve()))


@lru_cache(maxsize=64)
def _load_definition(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"space file {str(path)!r} is not valid YAML: {_first_line(exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"space file {str(path)!r} must hold a mapping")
    unknown = set(raw) - _SPACE_KEYS
    if unknown:
        raise ConfigError(f"space file {str(path)!r}: unknown key {sorted(unknown)[0]!r}; "
                          f"allowed: {sorted(_SPACE_KEYS)}")
    if "base" in raw:
        definition = load_definition(raw["base"]) if "/" not in str(raw["base"]) else \
            load_definition(path.parent / raw["base"])
    else:
        definition = {"parameters": {}, "conditions": {}, "forbidden": [], "axes": {}}
    if "axes" in raw:
        definition["axes"] = copy.deepcopy(raw["axes"])
    definition["parameters"].update(copy.deepcopy(raw.get("parameters") or {}))
    definition["conditions"].update(copy.deepcopy(raw.get("conditions") or {}))
    definition["forbidden"].extend(copy.deepcopy(raw.get("forbidden") or []))
    definition["name"] = raw.get("name", path.stem)
    definition["description"] = raw.get("description", "")
    for name, spec in definition["parameters"].items():
        _check_spec(name, spec, path)
    for name, allowed in (raw.get("restrict") or {}).items():
        restrict(definition, name, allowed)
    return fix(definition, raw.get("fixed") or {})


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _check_spec(name: str, spec: Mapping[str, Any], path: Path) -> None:
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"space file {str(path)!r}: parameter {name!r}: "
                          + invalid_choice("kind", KINDS, kind))


def _parameter(definition: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return definition["parameters"][name]
    except KeyError:
        raise ConfigError(invalid_choice("parameter", sorted(definition["parameters"]), name)) \
            from None


def restrict(definition: dict[str, Any], name: str, allowed: Any) -> None:
    """Narrow a parameter to a subset of its choices or to a sub-range."""
    spec = _parameter(definition, name)
    if spec["kind"] in ("categorical", "ordinal"):
        key = "choices" if spec["kind"] == "categorical" else "sequence"
        if spec.get("open"):  # any value the trainer accepts, e.g. widths for hidden_sizes
            for value in allowed:
                check_value(name, spec, value)
        else:
            bad = [a for a in allowed if a not in spec[key]]
            if bad:
                raise ConfigError(invalid_choice(name, spec[key], bad[0]))
        spec[key] = list(allowed)
        if spec["default"] not in allowed:
            spec["default"] = allowed[0]
    elif spec["kind"] in ("float", "int_log"):
        low, high = (float(v) for v in allowed)
        if not spec["range"][0] <= low < high <= spec["range"][1]:
            raise ConfigError(f"The {name!r} range must lie within {spec['range']}; got {allowed}")
        spec["range"] = [low, high]
        spec["default"] = min(max(spec["default"], low), high)
    else:
        raise ConfigError(f"The {name!r} parameter is a constant and cannot be restricted")


def _holds(required: Any, value: Any) -> bool:
    return value in required if isinstance(required, list) else value == required


def fix(definition: dict[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Turn parameters into constants; drop what can no longer be active."""
    for name, value in fixed.items():
        spec = _parameter(definition, name)
        check_value(name, spec, value)
        definition["parameters"][name] = {"kind": "constant", "value": value, "default": value}
    if fixed.get("execution") == "sparse":
        _exclude_refused(definition)
    changed = True
    while changed:
        changed = False
        for child, parents in list(definition["conditions"].items()):
            if child not in definition["parameters"]:
                del definition["conditions"][child]
                continue
            dead = False
            for parent, required in list(parents.items()):
                pspec = definition["parameters"].get(parent)
                if pspec is None:
                    dead = True
                elif pspec["kind"] == "constant":
                    if _holds(required, pspec["value"]):
                        del parents[parent]
                    else:
                        dead = True
                elif pspec["kind"] == "categorical":
                    still = [v for v in _as_list(required) if v in pspec["choices"]]
                    if not still:
                        dead = True
                    elif len(still) == len(pspec["choices"]):
                        del parents[parent]
                    else:
                        parents[parent] = still if len(still) > 1 else still[0]
            if dead:
                del definition["parameters"][child]
                del definition["conditions"][child]
                changed = True
            elif not parents:
                del definition["conditions"][child]
    for clause in definition["forbidden"]:
        if "less_than" in clause:
            _narrow_less_than(definition, *clause["less_than"])
    definition["forbidden"] = [
        f for f in definition["forbidden"] if _forbidden_alive(definition, f)]
    return definition


def held_axes(definition: Mapping[str, Any], searched: Sequence[str]) -> dict[str, Any]:
    """The parameters that a search of only the `searched` groups of axes holds: those of the
    other groups that the definition still varies and that can be active once held, each at
    its default. ConfigError (one line) for a group that the definition does not have."""
    groups = definition.get("axes") or {}
    unknown = next((g for g in searched if g not in groups), None)
    if unknown is not None:
        raise ConfigError(invalid_choice("axes", sorted(groups), unknown))
    params = definition["parameters"]
    held = {name: params[name]["default"] for group, names in groups.items()
            if group not in searched for name in names
            if name in params and params[name]["kind"] != "constant"}
    kept = fix(copy.deepcopy(dict(definition)), held)["parameters"]
    return {name: value for name, value in held.items() if name in kept}


def _narrow_less_than(definition: dict[str, Any], left: str, right: str) -> None:
    """Keep the rule `left >= right` (forbidden: left < right) when one side is a constant,
    which ConfigSpace cannot relate: the other side's range is cut at the constant (a range cut
    to one value becomes that constant). Both constant: they must keep the rule."""
    params = definition["parameters"]
    if left not in params or right not in params:
        return
    a, b = params[left], params[right]
    if a["kind"] == "constant" and b["kind"] == "constant":
        if a["value"] < b["value"]:
            raise ConfigError(f"The {left!r} parameter must be at least {right!r} "
                              f"({b['value']!r}); got {a['value']!r}")
        return
    if a["kind"] == "constant" and b["kind"] == "float":
        low, high = b["range"][0], min(b["range"][1], a["value"])
        name, spec = right, b
    elif b["kind"] == "constant" and a["kind"] == "float":
        low, high = max(a["range"][0], b["value"]), a["range"][1]
        name, spec = left, a
    else:
        return
    if low > high:
        raise ConfigError(f"The {left!r} parameter must be at least {right!r}: fixing "
                          f"{name!r}'s counterpart leaves none of its range {spec['range']}")
    if low == high:
        params[name] = {"kind": "constant", "value": low, "default": low}
    else:
        spec["range"] = [low, high]
        spec["default"] = min(max(spec["default"], low), high)


def _exclude_refused(definition: dict[str, Any]) -> None:
    """On the sparse execution path: a constant it cannot run is the one-line error that every
    trial would end in; a choice it cannot run leaves the space (the search proposes none)."""
    from metasparse.sparse.compressed import REFUSED, sparse_path_refusal  # imports torch

    params = definition["parameters"]
    refusal = sparse_path_refusal({n: s["value"] for n, s in params.items()
                                   if s["kind"] == "constant"})
    if refusal is not None:
        raise ConfigError(refusal)
    for name, (values, _) in REFUSED.items():
        spec = params.get(name)
        if spec is not None and spec["kind"] == "categorical":
            restrict(definition, name, [c for c in spec["choices"] if c not in values])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _forbidden_alive(definition: dict[str, Any], clause: Mapping[str, Any]) -> bool:
    params = definition["parameters"]
    if "less_than" in clause:
        return all(n in params and params[n]["kind"] != "constant" for n in clause["less_than"])
    if any(n not in params for n in clause):
        return False
    # A clause on constants alone is decided now: ConfigSpace rejects one that always holds.
    if all(params[n]["kind"] == "constant" for n in clause):
        return False
    return all(
        _holds(req, params[n]["value"]) if params[n]["kind"] == "constant"
        else params[n]["kind"] != "categorical"
        or any(v in params[n]["choices"] for v in _as_list(req))
        for n, req in clause.items()
    )


def check_value(name: str, spec: Mapping[str, Any], value: Any) -> None:
    """Raise ConfigError unless `value` is legal for the trainer.

    The trainer accepts more than the search samples: `bounds` widens a numeric range (or makes
    a numeric constant, never searched, settable within it),
    `accepts` lists further values (e.g. the `sparse` execution path, never searched), and an
    `open` categorical or ordinal takes any value of its type that matches its `pattern`, if it
    has one (e.g. any `hidden_sizes` string of comma-separated positive integers).
    """
    kind = spec["kind"]
    if kind in ("float", "int_log") or (kind == "constant" and "bounds" in spec):
        low, high = spec.get("bounds") or spec["range"]
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value) and low <= value <= high:
            return
        raise ConfigError(f"The {name!r} parameter must be a number in [{low}, {high}]; "
                          f"got {value!r}")
    if kind == "constant":
        allowed: list[Any] = [spec["value"]]
    else:
        allowed = spec["choices" if kind == "categorical" else "sequence"]
    allowed = [*allowed, *spec.get("accepts", [])]
    if any(value == a and type(value) is type(a) for a in allowed):
        return
    if not spec.get("open"):
        raise ConfigError(invalid_choice(name, allowed, value))
    pattern = spec.get("pattern")
    if all(type(value) is type(a) for a in allowed) \
            and (pattern is None or re.fullmatch(pattern, str(value))):
        return
    if pattern is None:
        raise ConfigError(f"The {name!r} parameter must be a {type(allowed[0]).__name__} "
                          f"such as {allowed[-1]!r}; got {value!r}")
    raise ConfigError(f"The {name!r} parameter must be {spec.get('format', pattern)} "
                      f"such as {allowed[-1]!r}; got {value!r}")


def build_space(definition: Mapping[str, Any], seed: int | None = None) -> ConfigurationSpace:
    """The ConfigSpace of a definition."""
    cs = ConfigurationSpace(name=definition.get("name", "space"), seed=seed)
    hps = {name: _hyperparameter(name, spec) for name, spec in definition["parameters"].items()}
    cs.add(list(hps.values()))
    conditions = []
    for child, parents in definition["conditions"].items():
        parts = [
            InCondition(hps[child], hps[parent], required) if isinstance(required, list)
            else EqualsCondition(hps[child], hps[parent], required)
            for parent, required in parents.items()
        ]
        conditions.append(parts[0] if len(parts) == 1 else AndConjunction(*parts))
    cs.add(conditions)
    for clause in definition["forbidden"]:
        cs.add(_forbidden(clause, hps))
    return cs


def _hyperparameter(name: str, spec: Mapping[str, Any]):
    kind = spec["kind"]
    if kind == "categorical":
        return Categorical(name, spec["choices"], default=spec["default"])
    if kind == "ordinal":
        return OrdinalHyperparameter(name, spec["sequence"], default_value=spec["default"])
    if kind == "constant":
        return Constant(name, spec["value"])
    low, high = (float(v) for v in spec["range"])
    log = bool(spec.get("log")) or kind == "int_log"
    return Float(name, (low, high), log=log, default=float(spec["default"]))


def _forbidden(clause: Mapping[str, Any], hps: Mapping[str, Any]):
    if "less_than" in clause:
        left, right = clause["less_than"]
        return ForbiddenLessThanRelation(hps[left], hps[right])
    parts = [
        ForbiddenInClause(hps[n], v) if isinstance(v, list) else ForbiddenEqualsClause(hps[n], v)
        for n, v in clause.items() if hps[n].__class__ is not Constant
    ]
    return parts[0] if len(parts) == 1 else ForbiddenAndConjunction(*parts)
