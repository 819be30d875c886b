"""Declared guards: every rule that may refuse an act is one `Guard`, declared once.

A guard is a check `(obj, at) -> None | sentence | Refusal`: None when the rule lets the act
happen at instant `at`, else the French sentence (or a full `Refusal`) that says why not. It
carries a stable rule code and the field it concerns.

Guards are declared in two places, and read from there by everyone:

- on a state machine's transitions, as django-fsm-2's `conditions=[...]`; `core.transitions`
  judges them on the locked row before the transition runs;
- on an `Act`: something a person does to an object that is not a transition of its own state
  machine (issue a VA on an order, open a claim, schedule a deployment). The service calls
  `act.require(obj, at=at)` under its locks; a page calls `act.refusals(obj, at=at)`.

So « which actions may this person do now, and why not the others » is read from the declared
guards (`transition_refusals`, `Act.refusals`), never found by trying a service in a rolled-back
transaction: a page view writes nothing and takes no lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import RuleViolation

__all__ = [
    "Act",
    "Guard",
    "Refusal",
    "guard",
    "judged_at",
    "judging",
    "raise_first",
    "require",
    "transition_refusals",
]


@dataclass(frozen=True)
class Refusal:
    """Why a rule refuses an act: a stable code for machines, a French sentence for people."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def error(self) -> RuleViolation:
        return RuleViolation(self.code, self.message, field=self.field)


Check = Callable[[Any, dt.datetime], "str | Refusal | list[Refusal] | None"]


class Guard:
    """One rule guarding an act. Callable with the object alone, as django-fsm calls a
    transition's conditions (judged at the object's judged instant, see `judging`)."""

    def __init__(self, check: Check, *, code: str, field: str | None = None):
        self.check = check
        self.code = code
        self.field = field
        self.__name__ = getattr(check, "__name__", code)
        self.__doc__ = check.__doc__

    def refusals(self, obj: Any, at: dt.datetime) -> list[Refusal]:
        """What the check says, as refusals (a check that judges several conditions at once,
        such as « may the solde be claimed », returns a list)."""
        found = self.check(obj, at)
        if not found:
            return []
        if isinstance(found, list | tuple):
            return list(found)
        if isinstance(found, Refusal):
            return [found]
        return [Refusal(self.code, str(found), self.field)]

    def refusal(self, obj: Any, at: dt.datetime) -> Refusal | None:
        found = self.refusals(obj, at)
        return found[0] if found else None

    def __call__(self, obj: Any) -> bool:
        return not self.refusals(obj, judged_at(obj))

    def __repr__(self) -> str:
        return f"<Guard {self.code}>"


def guard(code: str, *, field: str | None = None) -> Callable[[Check], Guard]:
    """Declares a check as a guard: `@guard("orders_deadline_passed", field="signed_at")`."""

    def declare(check: Check) -> Guard:
        return Guard(check, code=code, field=field)

    return declare


def judging(obj: Any, at: dt.datetime | None) -> Any:
    """Marks the instant `obj`'s guards are judged at when django-fsm calls them without one
    (its `get_available_…_transitions`); returns `obj`."""
    obj.__dict__["_judged_at"] = at
    return obj


def judged_at(obj: Any) -> dt.datetime:
    return obj.__dict__.get("_judged_at") or timezone.now()


def refusals_of(guards: Iterable[Any], obj: Any, at: dt.datetime) -> list[Refusal]:
    """The refusals of `guards` on `obj` at `at`, in their declared order. A plain callable
    condition (not a Guard) refuses with its name."""
    found = []
    for condition in guards:
        if isinstance(condition, Guard):
            found.extend(condition.refusals(obj, at))
        elif not condition(obj):
            found.append(
                Refusal(
                    "transition_condition_unmet", getattr(condition, "__name__", str(condition))
                )
            )
    return found


def raise_first(refusals: list[Refusal]) -> None:
    if refusals:
        raise refusals[0].error()


def require(obj: Any, at: dt.datetime, *guards: Guard) -> None:
    """Raises the first refusal of `guards` on `obj` at `at` (a service's check of rules it
    shares with an act or a transition)."""
    raise_first(refusals_of(guards, obj, at))


def transition_refusals(
    obj: Any, name: str, *, at: dt.datetime, state_field: str = "status"
) -> list[Refusal]:
    """Why transition `name` may not run on `obj` now: its state first, then its declared
    conditions judged at `at`. Empty when it may run. Reads only."""
    meta = getattr(type(obj), name)._django_fsm
    state = getattr(obj, state_field)
    if not meta.has_transition(state):
        return [state_refusal(obj, name, state_field=state_field)]
    return refusals_of(meta.get_transition(state).conditions, obj, at)


def transition_label(model: type, name: str) -> str:
    """The French label a transition declares (`custom={"label": …}`), else its name."""
    meta = getattr(model, name)._django_fsm
    for spec in meta.transitions.values():
        if "label" in spec.custom:
            return str(spec.custom["label"])
    return name


def state_refusal(obj: Any, name: str, *, state_field: str = "status") -> Refusal:
    """The refusal of a transition that does not leave the object's current state."""
    return Refusal(
        "transition_not_allowed",
        _("L'action « %(action)s » n'est pas possible depuis l'état « %(state)s ».")
        % {
            "action": transition_label(type(obj), name),
            "state": getattr(obj, f"get_{state_field}_display")(),
        },
        state_field,
    )


@dataclass(frozen=True)
class Act:
    """An act on an object that is not one of its own transitions, with its declared guards.
    The service that performs it calls `require` under its locks; pages read `refusals`."""

    name: str
    label: str
    guards: tuple[Guard, ...]

    def refusals(self, obj: Any, *, at: dt.datetime) -> list[Refusal]:
        return refusals_of(self.guards, obj, at)

    def allowed(self, obj: Any, *, at: dt.datetime) -> bool:
        return not self.refusals(obj, at=at)

    def require(self, obj: Any, *, at: dt.datetime) -> None:
        raise_first(self.refusals(obj, at=at))
