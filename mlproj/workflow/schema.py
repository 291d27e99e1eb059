"""The project file's JSON Schema with the estimator allow-list.

`mlproj schema` prints it and `mlproj init` writes it beside the project file
(mlproj.schema.json), which the file's first line points editors to (the YAML language server
of VS Code and others): completion, descriptions and red underlines while typing, and the
same check in CI with any JSON Schema validator.
"""

from __future__ import annotations

from mlproj.project.estimator_names import ESTIMATOR_NAMES
from mlproj.project.schema import json_schema

SCHEMA_FILE = "mlproj.schema.json"
SCHEMA_LINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


def project_schema() -> dict:
    """The schema, with every estimator a project file may name as an enum (both tasks: the
    schema cannot see objective.task; `mlproj check` tells a regressor named for a classification)."""
    return json_schema(ESTIMATOR_NAMES)
