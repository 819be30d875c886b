"""The published JSON Schemas: generated from the models, kept in the repository, checked by CI."""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from jsonschema import Draft202012Validator

from payments.asp.feedback import AspFeedback
from payments.asp.filing import FILING_MODELS, SCHEMA_VERSION, AvanceFiling
from payments.management.commands.asp_schemas import SCHEMAS_DIR, expected_files

FILES = [
    "avance-v1.0.schema.json",
    "solde-v1.0.schema.json",
    "secondaire-v1.0.schema.json",
    "achevement-v1.0.schema.json",  # notices of completion (SONS.md, « End of réalisation »)
    "feedback-v1.0.schema.json",
]


@pytest.fixture
def schemas_copy(tmp_path) -> Path:
    """A copy of the committed schemas to spoil: the repository is never modified."""
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, target)
    return target


def check(directory: Path | None = None) -> str:
    args = ["asp_schemas", "--check"] + (["--dir", str(directory)] if directory else [])
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_committed_schemas_are_up_to_date():
    assert "Schémas ASP à jour (5 fichiers)" in check()
    assert sorted(expected_files()) == sorted(FILES)
    assert {p.name for p in SCHEMAS_DIR.glob("*-v1.0.schema.json")} == set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_each_schema_is_valid_draft_2020_12_pretty_printed_sorted(name):
    text = (SCHEMAS_DIR / name).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_schemas_are_the_models_own():
    for kind, model in FILING_MODELS.items():
        schema = json.loads((SCHEMAS_DIR / f"{kind}-v{SCHEMA_VERSION}.schema.json").read_text())
        schema.pop("$schema")
        assert schema == model.model_json_schema()
        assert schema["properties"]["kind"]["const"] == kind
        assert schema["additionalProperties"] is False
    feedback = json.loads((SCHEMAS_DIR / "feedback-v1.0.schema.json").read_text())
    feedback.pop("$schema")
    assert feedback == AspFeedback.model_json_schema()


def test_check_fails_naming_an_altered_file(schemas_copy):
    path = schemas_copy / "solde-v1.0.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["title"] = "Autre chose"
    path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    with pytest.raises(CommandError) as exc:
        check(schemas_copy)
    assert exc.value.returncode != 0
    assert "solde-v1.0.schema.json" in str(exc.value)
    assert "avance-v1.0.schema.json" not in str(exc.value)


def test_check_fails_naming_a_missing_file(schemas_copy):
    (schemas_copy / "feedback-v1.0.schema.json").unlink()
    (schemas_copy / "avance-v1.0.schema.json").write_text("{}\n")
    with pytest.raises(CommandError) as exc:
        check(schemas_copy)
    assert "avance-v1.0.schema.json" in str(exc.value)
    assert "feedback-v1.0.schema.json" in str(exc.value)


def test_generating_rewrites_what_differs_and_then_checks(schemas_copy):
    (schemas_copy / "secondaire-v1.0.schema.json").write_text("{}\n")
    (schemas_copy / "feedback-v1.0.schema.json").unlink()
    call_command("asp_schemas", "--dir", str(schemas_copy), stdout=io.StringIO())
    for name in FILES:
        assert (schemas_copy / name).read_bytes() == (SCHEMAS_DIR / name).read_bytes()
    check(schemas_copy)


def test_the_command_line_exit_codes(schemas_copy):
    """As CI runs it: 0 on the committed files, non-zero with the file named otherwise."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sons.settings_test"}
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "asp_schemas", "--check"]
    ok = subprocess.run(manage, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    (schemas_copy / "avance-v1.0.schema.json").write_text("{}\n")
    failed = subprocess.run(
        [*manage, "--dir", str(schemas_copy)], env=env, capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0
    assert "avance-v1.0.schema.json" in failed.stderr


def test_an_avance_document_breaking_the_rules_is_refused_by_the_schema():
    schema = json.loads((SCHEMAS_DIR / "avance-v1.0.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    line = {
        "line_number": 1,
        "order_reference": "BDC-00000012",
        "client": {"name": "Dr A", "kind": "medecin_liberal", "rpps": "10000000010"},
        "bdc_signed_at": "2022-09-01T10:00:00+02:00",
        "prestation_ht_cents": 150000,
        "prestation_ttc_cents": 180000,
        "claimed_ht_cents": 45000,
        "claimed_ttc_cents": 54000,
        "line_type": "demande",
        "attachments": [{"name": "BDC-00000012-bdc.pdf", "sha256": "a" * 64}],
    }
    doc = {
        "schema_version": "1.0",
        "kind": "avance",
        "dispositif": "MDV-LGC-V1",
        "vendor": {
            "siret": "90000001000019",
            "siren": "900000010",
            "name": "Éditeur",
            "referencing_numbers": ["ANS-1"],
        },
        "filing": "SONS_avance_MDV-LGC-V1_90000001000019_0001",
        "sequence": 1,
        "created_at": "2023-10-02T09:00:00+02:00",
        "lines": [line],
        "totals": {"line_count": 1, "claimed_ttc_cents": 54000, "claimed_ht_cents": 45000},
    }
    assert list(validator.iter_errors(doc)) == []
    AvanceFiling.model_validate(doc)

    def errors(**changes):
        bad = json.loads(json.dumps(doc))
        for path, value in changes.items():
            *parents, leaf = path.split(".")
            node = bad
            for key in parents:
                node = node[int(key)] if key.isdigit() else node[key]
            node[leaf] = value
        return list(validator.iter_errors(bad))

    assert errors(**{"lines.0.claimed_ttc_cents": 540.5})  # never a float
    assert errors(**{"lines.0.claimed_ttc_cents": -54000})  # a demande is positive
    assert errors(**{"lines.0.line_type": "compensation"})  # no compensation in an avance
    assert errors(**{"lines.0.client": {"name": "Dr A", "kind": "medecin_liberal"}})
    assert errors(**{"lines.0.attachments": []})  # the BDC is required
    assert errors(**{"lines.0.extra": 1})  # extra="forbid"
    assert errors(kind="solde")
    assert errors(lines=[])
