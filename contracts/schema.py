"""The JSON Schema of the contract file format, generated from the models.

Published as docs/contract.schema.json so that editors (e.g. VS Code's YAML
extension) can check a contract file while it is written.  A test keeps the
published file identical to what the models generate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.model import Contract

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "contract.schema.json"


def contract_json_schema() -> dict[str, Any]:
    schema = Contract.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sib-engine.example/contract.schema.json",
        "title": "Social outcomes contract",
        "description": "A social outcomes contract (social impact bond) as written for the sib engine. "
        "Amounts are decimal numbers in the contract currency.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def write_schema(path: Path = SCHEMA_FILE) -> Path:
    path.write_text(json.dumps(contract_json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema())
