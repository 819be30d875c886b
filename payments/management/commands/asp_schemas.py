"""Publishes the JSON Schemas of the files exchanged with the ASP, or checks they are up to date.

    manage.py asp_schemas            writes payments/schemas/<kind>-v<version>.schema.json
    manage.py asp_schemas --check    exits non-zero, naming each file that differs (CI runs it)

One schema per kind of filing (avance, solde, secondaire) and one for the agency's feedback file,
generated from the pydantic models: pretty-printed, keys sorted, UTF-8, trailing newline. The
files are kept in the repository; a change to the models that moves a schema shows in review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.asp.feedback import FEEDBACK_SCHEMA_VERSION, AspFeedback
from payments.asp.filing import FILING_MODELS, SCHEMA_VERSION

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _document(schema: dict[str, Any]) -> str:
    return json.dumps(
        {"$schema": JSON_SCHEMA_DIALECT, **schema}, indent=2, sort_keys=True, ensure_ascii=False
    )


def expected_files() -> dict[str, str]:
    """File name -> content, as the models generate them today."""
    files = {
        f"{kind}-v{SCHEMA_VERSION}.schema.json": _document(model.model_json_schema())
        for kind, model in FILING_MODELS.items()
    }
    files[f"feedback-v{FEEDBACK_SCHEMA_VERSION}.schema.json"] = _document(
        AspFeedback.model_json_schema()
    )
    return {name: content + "\n" for name, content in files.items()}


def stale_files(directory: Path) -> list[str]:
    """The expected files that are missing from `directory` or differ from what is generated."""
    stale = []
    for name, content in expected_files().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale


class Command(BaseCommand):
    help = "Écrit (ou vérifie avec --check) les schémas JSON des fichiers échangés avec l'ASP."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="N'écrit rien ; échoue en nommant les fichiers qui diffèrent des modèles.",
        )
        parser.add_argument(
            "--dir",
            type=Path,
            default=SCHEMAS_DIR,
            help=f"Dossier des schémas (par défaut {SCHEMAS_DIR}).",
        )

    def handle(self, *args, check: bool, dir: Path, **options) -> None:
        if check:
            stale = stale_files(dir)
            if stale:
                raise CommandError(
                    "Schémas ASP à régénérer (manage.py asp_schemas) : " + ", ".join(stale)
                )
            self.stdout.write(f"Schémas ASP à jour ({len(expected_files())} fichiers).")
            return
        dir.mkdir(parents=True, exist_ok=True)
        for name, content in expected_files().items():
            path = dir / name
            if path.is_file() and path.read_text(encoding="utf-8") == content:
                continue
            path.write_text(content, encoding="utf-8")
            self.stdout.write(f"écrit : {path}")
