"""Domain errors: a refused rule carries a stable code, the field concerned and a French message.

Services raise them; the admin and pages show the message, the API turns them into problem details.
A refusal is raised before anything is written, inside the service's transaction, so the database
stays as it was.
"""

from __future__ import annotations

from typing import Any


class RuleViolation(Exception):
    """A business rule refused an action (a deadline passed, a state forbids it...)."""

    def __init__(self, code: str, message: str, /, *, field: str | None = None, **params: Any):
        self.code = code
        self.field = field
        self.params = params
        self.message = str(message % params) if params else str(message)
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


class TransitionRefused(RuleViolation):
    """The state machine does not allow this transition from the object's current state."""
