"""The agency's feedback file: what it decided on each line of the filings it received.

Published as a JSON Schema beside the filing schemas (`manage.py asp_schemas`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FEEDBACK_SCHEMA_VERSION = "1.0"


class Decision(StrEnum):
    VALIDATED = "validee"
    TO_CORRECT = "a_modifier"
    PAID = "decidee_et_payee"
    REJECTED = "rejetee"


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Décision de l'ASP sur une ligne")

    filing: Annotated[str, Field(min_length=1, max_length=120, description="Nom du dépôt")]
    line_number: Annotated[int, Field(ge=1, description="Numéro de ligne dans le dépôt")]
    decision: Decision
    reason: Annotated[str, Field(default="", max_length=2000)]
    paid_on: dt.date | None = None
    paid_amount_cents: Annotated[int | None, Field(default=None, gt=0)]

    @model_validator(mode="after")
    def decision_fields(self) -> FeedbackItem:
        if self.decision == Decision.PAID and (
            self.paid_on is None or self.paid_amount_cents is None
        ):
            raise ValueError("une décision « décidée et payée » porte la date et le montant payés")
        if self.decision in (Decision.TO_CORRECT, Decision.REJECTED) and not self.reason.strip():
            raise ValueError("une décision « à modifier » ou « rejetée » porte son motif")
        return self


class AspFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Retour de l'ASP sur des dépôts SONS")

    schema_version: Literal["1.0"] = FEEDBACK_SCHEMA_VERSION
    issued_at: dt.datetime
    items: Annotated[list[FeedbackItem], Field(min_length=1)]
