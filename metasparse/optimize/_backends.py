"""The backends, as a registry: backend name -> the pydantic model of its settings.

A backend is two small modules: an adapter with `run(session)` (e.g. `_smac.py`, which imports
SMAC), and beside it its settings (`_smac_settings.py`: pydantic only), a subclass of `Backend`
decorated with `@register_backend`. The scenario's `backend:` section is the union of the
registered models, discriminated by `name` (`backend_settings`); the command line's `--backend`
choices and the error messages list the registry; the tests' shared backend suite runs every
registered backend. Adding one is those two modules and one import line at the end of this module.

The union is resolved when a scenario is validated, not when `Scenario` is defined, so that a
backend registered later (a test's toy backend) is part of it too.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from metasparse._registry import Registry
from metasparse.optimize._describe import describe

if TYPE_CHECKING:
    from metasparse.optimize._session import Session

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Backend", "backend_names", "backend_settings",
           "register_backend"]

DEFAULT_BACKEND = "smac"


class Backend(BaseModel):
    """The settings every backend has (`name`, `seed`); a backend's own model adds its settings
    (a null value stands for the setting's default) and names its adapter module."""

    model_config = ConfigDict(extra="forbid", strict=True)
    adapter: ClassVar[str]  # the module whose run(session) searches; imported only to run
    name: str
    seed: int = 0

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_the_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in Backend.model_fields:
            return cls.model_fields[str(info.field_name)].get_default(call_default_factory=True)
        return value

    def settle(self, multi_objective: bool, per_epoch: bool = True) -> None:
        """Complete the settings that depend on the objectives (two, or a first one with no
        per-epoch values, as fs_error: `per_epoch` False); raise ValueError (one line naming
        the key) for a combination this backend cannot run."""

    def warm_start_limit(self, n_trials: int | None) -> int | None:
        """The most warm-start configurations this backend evaluates first (None: all)."""
        return None

    def _settle_stopper(self, key: str, default: str, multi_objective: bool, per_epoch: bool,
                        why: str) -> None:
        """Settle `key` (a pruner or scheduler that stops trials on their per-epoch values),
        which must be 'none' with two objectives (`why`) or with a first objective scored only
        after training: its default is `default` otherwise."""
        value = getattr(self, key)
        if value is None:
            setattr(self, key, default if per_epoch and not multi_objective else "none")
        elif multi_objective and value != "none":
            raise ValueError(f"backend.{key} must be 'none' with two objectives ({why}); "
                             f"got {value!r}")
        elif not per_epoch and value != "none":
            raise ValueError(f"backend.{key} must be 'none' with objective fs_error (it is "
                             f"scored once, after training); got {value!r}")

    def run(self, session: Session) -> None:
        """Search: the adapter's `run(session)`, its optional dependencies imported only now."""
        importlib.import_module(self.adapter).run(session)


BACKENDS: Registry[type[Backend]] = Registry("backend.name")

B = TypeVar("B", bound=type[Backend])


def register_backend(model: B) -> B:
    """Register a settings model under the one value of its `name: Literal[...]` field."""
    (name,) = get_args(model.model_fields["name"].annotation)
    return BACKENDS.register(name)(model)


def backend_names() -> list[str]:
    """The registered backends, in the order of registration."""
    return BACKENDS.names()


def backend_settings(raw: Any) -> Any:
    """The scenario's `backend:` mapping as the settings model its `name` selects (smac when it
    has none). Raises ValueError, one line naming the key, for an unknown name, a setting of
    another backend or a bad value; anything but a mapping is returned for pydantic to judge."""
    if not isinstance(raw, Mapping):
        return raw
    name = raw.get("name", DEFAULT_BACKEND)
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"backend.name must be one of {sorted(BACKENDS)}; got {name!r}")
    model = BACKENDS[name]
    settings = {"name": name}
    for key, value in raw.items():
        owners = [other for other in BACKENDS if key in BACKENDS[other].model_fields]
        if key in model.model_fields or not owners:
            settings[key] = value  # an unknown key is pydantic's to refuse
        elif value is not None:  # null: not given (as before the registry)
            raise ValueError(f"backend.{key} applies to backend.name "
                             f"{' or '.join(map(repr, owners))} only; got it with {name!r}")
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        raise ValueError(describe(exc, model, at=("backend",))) from None


# The built-in backends, one line each: their settings modules register them when imported
# (after the definitions above, which they use).
import metasparse.optimize._optuna_settings  # noqa: E402
import metasparse.optimize._random_settings  # noqa: E402
import metasparse.optimize._ray_settings  # noqa: E402
import metasparse.optimize._smac_settings  # noqa: E402, F401
