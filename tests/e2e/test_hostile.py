"""Hostile input: rejected with exit 2 and one paragraph, or handled safely; nothing executed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import TINY_PROJECT, changed, cli

CANARY = "CANARY"
BASE = changed(TINY_PROJECT, name="hostile")
TOUCH = f"__import__('os').system('touch {CANARY}')"


def _catalogue(path: Path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"u": rng.normal(18, 1, 60), "g": rng.normal(17, 1, 60),
                  "class": ["GALAXY", "STAR"] * 30}).to_csv(path, index=False)


def _with(**changes) -> str:
    return yaml.safe_dump(changed(BASE, **changes), sort_keys=False)


def _bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CONFIG_CASES = {
    "billion-laughs": _bomb(),
    "deep-nesting": "name: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-mapping": "name: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "python-object-apply": f"name: !!python/object/apply:os.system ['touch {CANARY}']\n",
    "python-name": "name: !!python/name:os.system\n",
    "custom-tag": "name: !include /etc/passwd\n",
    "dunder-class": _with(data__derived={"x": "u.__class__"}),
    "bases-escape": _with(data__derived={"x": "().__class__.__bases__[0].__subclasses__()"}),
    "import-in-class": _with(classes={"galaxy": TOUCH, "star": "class == 'STAR'"}),
    "lambda": _with(data__derived={"x": "(lambda: 1)()"}),
    "comprehension": _with(data__derived={"x": "[c for c in u]"}),
    "very-long-expression": _with(data__derived={"x": " + ".join(["u"] * 3000)}),
    "eval-call": _with(data__derived={"x": "eval('1')"}),
    "huge-yaml-integer": _with(finish_line={"threshold": int("9" * 500)}),
    "estimator-path": _with(candidates=[{"name": "x", "estimator": "os.system"}]),
    "estimator-object-param": _with(candidates=[{"name": "x", "estimator": "BaggingClassifier",
                                                "params": {"estimator": "os.system"}}]),
    "path-traversal-data": _with(data__path="../../../../etc/shadow.csv"),
    "non-utf8-project": b"name: \xff\xfe\n",
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES), ids=sorted(CONFIG_CASES))
def test_hostile_project_files(tmp_path: Path, case: str):
    text = CONFIG_CASES[case]
    (tmp_path / "mlproj.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    _catalogue(tmp_path / "cat.csv")
    result = cli("run", cwd=tmp_path)
    _assert_rejected(result, tmp_path)


CATALOGUE_CASES = {
    "ragged-lines": "u,g,class\n1,2,STAR\n1,2,3,GALAXY\n",
    "short-line": "u,g,class\n1,2,STAR\n1,GALAXY\n",
    "duplicate-columns": "u,u,g,class\n1,2,3,STAR\n4,5,6,GALAXY\n",
    "non-utf8": b"u,g,class\n1,2,\xff\xfe\n",
    "huge-numbers": "u,g,class\n" + "\n".join(f"1e400,{i},{'STAR' if i % 2 else 'GALAXY'}" for i in range(60)) + "\n",
    "binary-garbage": bytes(range(256)) * 20,
}


@pytest.mark.parametrize("case", sorted(CATALOGUE_CASES), ids=sorted(CATALOGUE_CASES))
def test_hostile_catalogues(tmp_path: Path, case: str):
    (tmp_path / "mlproj.yaml").write_text(_with())
    content = CATALOGUE_CASES[case]
    (tmp_path / "cat.csv").write_bytes(content if isinstance(content, bytes) else content.encode())
    _assert_rejected(cli("run", cwd=tmp_path), tmp_path)


def test_huge_exponent_is_handled_safely(tmp_path: Path):
    (tmp_path / "mlproj.yaml").write_text(_with(data__derived={"x": "10**10**10 + u"}))
    _catalogue(tmp_path / "cat.csv")
    result = cli("run", cwd=tmp_path)  # evaluates to inf in float64 at once: reported as infinite values
    _assert_rejected(result, tmp_path)
    assert "infinite" in result.stderr


def test_init_writes_only_inside_its_folder(tmp_path: Path):
    target = tmp_path / "a" / ".." / "b"
    assert cli("init", str(target)).exit_code == 0
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {Path("b") / n for n in ("mlproj.yaml", "mlproj.schema.json", "catalogue.csv", "README.md", ".gitignore")}


def _assert_rejected(result, folder: Path) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error:")
    assert "\n\n" not in message  # one paragraph
    assert len(message) < 2000
    assert not (folder / CANARY).exists()
