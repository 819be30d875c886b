"""What a command (one use case, on a set of items) answers when it refuses.

A command checks every item before it writes anything, and writes all of them or none. When it
refuses, it raises `ItemsRefused` with every item at fault: its index in the set, the field, the
rule's stable code and a French sentence. Every door shows the same refusal: the API as problem
details (400 when an item is malformed or names nothing known, 409 when a rule refuses it), the
portal's forms under the field, the portal's files line by line.

`ItemsRefused` is a `RuleViolation` carrying the first error's code, field and message, so a door
that handles one item (a form, a single endpoint, a management command) needs nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .errors import RuleViolation


@dataclass(frozen=True)
class ItemError:
    index: Any
    field: str | None
    code: str
    message: str
    # The item is malformed or names nothing known (a reference, a required field), rather than
    # refused by a business rule: the API answers 400 instead of 409.
    invalid: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


class ItemsRefused(RuleViolation):
    """A command refused some of its items; nothing was written."""

    def __init__(self, errors: Iterable[ItemError]):
        self.errors = sorted(errors, key=lambda e: _order(e.index))
        first = self.errors[0]
        super().__init__(first.code, first.message, field=first.field)

    @property
    def invalid(self) -> bool:
        return any(e.invalid for e in self.errors)


def _order(index: Any):
    return (0, index, "") if isinstance(index, int) else (1, 0, str(index))


class ItemErrors(list):
    """The errors found so far, item by item."""

    def add(
        self, index: Any, field: str | None, code: str, message: Any, *, invalid: bool = False
    ) -> None:
        self.append(ItemError(index, field, code, str(message), invalid))

    def rule(self, index: Any, exc: RuleViolation, *, field: str | None = None) -> None:
        self.append(ItemError(index, field or exc.field, exc.code, exc.message))

    def validation(self, index: Any, exc: ValidationError, *, prefix: str = "") -> None:
        """A model's or validator's refusal, field by field, with the validator's code."""
        entries = exc.error_dict.items() if hasattr(exc, "error_dict") else [(None, exc.error_list)]
        for name, errors in entries:
            field = None if name in (None, "__all__") else name
            if prefix:
                field = f"{prefix}.{field}" if field else prefix
            for error in errors:
                self.append(
                    ItemError(index, field, error.code or "invalid", " ".join(error.messages), True)
                )

    def stale(self, index: Any, precondition, if_match: str | None, row: Any, message) -> bool:
        """Whether item `index` names a version of `row` other than its current one (the door's
        ETag check, `precondition`, when it checks them): said under `if_match`, once."""
        if precondition is None or precondition(if_match, row):
            return False
        self.add(index, "if_match", "precondition_failed", message)
        return True

    def of(self, index: Any) -> set[str | None]:
        """The fields of item `index` already at fault."""
        return {e.field for e in self if e.index == index}

    def indexes(self) -> set[Any]:
        return {e.index for e in self}

    def raise_if_any(self) -> None:
        if self:
            raise ItemsRefused(self)


class Rollback(Exception):
    """Leaves a command's transaction so that nothing is kept: a refusal, or a dry run."""

    def __init__(self, result: Any = None):
        self.result = result
        super().__init__("rollback")


def check_shape(
    items: list[dict],
    errors: ItemErrors,
    *,
    required: tuple[str, ...],
    immutable: tuple[str, ...],
    etag: bool,
) -> None:
    """What an item must carry: without `id` it creates, and names every `required` field; with
    `id` it corrects, changes none of the `immutable` fields and, where the door checks ETags
    (`etag`), carries the one it read (`if_match`)."""
    for index, item in enumerate(items):
        if "id" in item:
            if etag and not item.get("if_match"):
                errors.add(
                    index,
                    "if_match",
                    "precondition_required",
                    _("Une modification porte l'ETag lu sur l'objet (if_match)."),
                    invalid=True,
                )
            for name in immutable:
                if name in item:
                    errors.add(
                        index,
                        name,
                        "field_not_updatable",
                        _("Ce champ ne se modifie pas sur un objet existant."),
                        invalid=True,
                    )
        else:
            if "if_match" in item:
                errors.add(
                    index,
                    "if_match",
                    "unexpected_if_match",
                    _("if_match accompagne une modification (avec id), pas une création."),
                    invalid=True,
                )
            for name in required:
                if name not in item:
                    errors.add(
                        index, name, "required", _("Ce champ est obligatoire."), invalid=True
                    )
