"""Tests of mlproj.data.dataset: catalogues into labels and features, and every way that can fail."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlproj.data.dataset import file_hash, load_dataset
from mlproj.errors import ConfigError, DataError
from mlproj.plan.splits import required_per_class
from mlproj.project.loading import LoadedProject, parse_project
from tests.conftest import within

N = 40
CLASSES = {"galaxy": "class == 'GALAXY'", "other": "class in ['STAR', 'QSO']"}


def catalogue(n: int = N, seed: int = 0) -> pd.DataFrame:
    """GALAXY, STAR, QSO, UNKNOWN repeating: 10 of each in 40 rows."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "u": rng.normal(20, 1, n).round(4),
        "g": rng.normal(19, 1, n).round(4),
        "r": rng.normal(18, 1, n).round(4),
        "class": (["GALAXY", "STAR", "QSO", "UNKNOWN"] * n)[:n],
    })


def project(root: Path, *, path: str = "cat.csv", features: str | None = "[u, g]", extra_data: str = "",
            classes: dict | None = None, task: str = "classification", label: str = "class",
            validation: str = "{folds: 2, repeats: 1}") -> LoadedProject:
    data = f"data:\n  path: {path}\n  label: {label}\n"
    if features is not None:
        data += f"  features: {features}\n"
    data += extra_data
    if task == "classification":
        classes = CLASSES if classes is None else classes
        rest = "classes:\n" + "".join(f'  {k}: "{v}"\n' for k, v in classes.items()) + "positive: galaxy\n"
        metric = "{name: tpr_at_fpr, fpr: 0.01}"
    else:
        rest, metric = "", "rmse"
    text = (f"name: t\nobjective: {{statement: s, task: {task}}}\n{data}{rest}"
            f"metric: {{primary: {metric}}}\nfinish_line: {{threshold: 0.5}}\nvalidation: {validation}\n")
    return parse_project(text, root / "mlproj.yaml")


def write_csv(root: Path, frame: pd.DataFrame, name: str = "cat.csv") -> Path:
    path = root / name
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- labels

def test_labels_from_class_definitions_with_merged_classes(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    ds = load_dataset(project(tmp_path))
    assert ds.classes == ["galaxy", "other"]
    assert ds.positive == 0
    kept = frame[frame["class"] != "UNKNOWN"]
    expected = np.where(kept["class"] == "GALAXY", 0, 1)
    np.testing.assert_array_equal(ds.y, expected)
    np.testing.assert_array_equal(ds.X, kept[["u", "g"]].to_numpy())
    assert ds.class_counts() == {"galaxy": 10, "other": 20}
    assert ds.dropped == {"matching no class": 10}
    assert ds.n_rows_read == N and ds.n_rows == 30
    assert ds.feature_names == ["u", "g"]
    assert ds.X.dtype == np.float64 and ds.X.flags["C_CONTIGUOUS"]
    assert ds.source == (tmp_path / "cat.csv").resolve()
    assert ds.warnings == []


def test_rows_without_a_label_are_dropped_and_counted_before_the_class_definitions(tmp_path):
    frame = catalogue()
    frame.loc[[1, 2, 5], "class"] = ""  # a STAR, a QSO and a STAR lose their label: empty cells
    write_csv(tmp_path, frame)
    classes = {"galaxy": "class == 'GALAXY'", "other": "class != 'GALAXY'"}
    ds = load_dataset(project(tmp_path, classes=classes))
    # Without the label, 'other' (defined by exclusion) would have taken them.
    assert ds.dropped == {"with a missing label": 3}
    assert ds.class_counts() == {"galaxy": 10, "other": 27}
    assert ds.n_rows == N - 3 and ds.n_rows_read == N


def test_missing_labels_and_rows_matching_no_class_are_counted_apart(tmp_path):
    frame = catalogue()
    frame.loc[[0, 3, 7], "class"] = np.nan  # a GALAXY and two UNKNOWN
    frame.to_parquet(tmp_path / "cat.parquet")
    ds = load_dataset(project(tmp_path, path="cat.parquet"))
    assert ds.dropped == {"with a missing label": 3, "matching no class": 8}
    assert ds.class_counts() == {"galaxy": 9, "other": 20}


def test_missing_numeric_label_is_not_taken_by_a_not_equal_definition(tmp_path):
    frame = catalogue().assign(type=[3.0, 6.0, 6.0, 6.0] * (N // 4))
    frame.loc[[1, 2], "type"] = np.nan  # IEEE: nan != 3 is true
    write_csv(tmp_path, frame)
    ds = load_dataset(project(tmp_path, label="type", classes={"galaxy": "type == 3", "other": "type != 3"}))
    assert ds.dropped == {"with a missing label": 2}
    assert ds.class_counts() == {"galaxy": 10, "other": 28}


def test_positive_index_follows_class_order(tmp_path):
    write_csv(tmp_path, catalogue())
    classes = {"other": "class in ['STAR', 'QSO']", "galaxy": "class == 'GALAXY'"}
    ds = load_dataset(project(tmp_path, classes=classes))
    assert ds.classes == ["other", "galaxy"] and ds.positive == 1
    assert ds.class_counts() == {"other": 20, "galaxy": 10}


def test_rows_matching_two_classes(tmp_path):
    write_csv(tmp_path, catalogue())
    classes = {"galaxy": "class == 'GALAXY'", "other": "class != 'STAR'"}
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, classes=classes))
    text = info.value.render()
    assert "match two classes" in text and "galaxy and other" in text
    assert "mlproj.yaml" in text and "(classes)" in text


def test_class_matching_no_rows(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(DataError, match="'other' matches no rows"):
        load_dataset(project(tmp_path, classes={"galaxy": "class == 'GALAXY'", "other": "class == 'NOPE'"}))


def test_one_class_only(tmp_path):
    frame = catalogue()
    frame["class"] = "GALAXY"
    write_csv(tmp_path, frame)
    with pytest.raises(DataError):
        load_dataset(project(tmp_path))


def test_class_definition_that_is_not_a_condition(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(ConfigError, match="not a condition"):
        load_dataset(project(tmp_path, classes={"galaxy": "u + 1", "other": "class == 'STAR'"}))


def test_class_sizes_for_the_folds_are_checked_with_the_splits_not_here(tmp_path):
    write_csv(tmp_path, catalogue(n=12))  # 3 galaxies: too few for 5 folds (plan.splits says so)
    assert load_dataset(project(tmp_path, validation="{folds: 5, repeats: 1}")).n_rows == 9


def test_too_few_rows_per_class_for_the_folds(tmp_path):
    from mlproj.workflow.run import prepare

    write_csv(tmp_path, catalogue(n=12))  # 3 galaxies
    with pytest.raises(DataError) as info:
        prepare(project(tmp_path, validation="{folds: 5, repeats: 1}"))
    text = info.value.render()
    assert "too few objects per class" in text and "galaxy: 3" in text
    assert f"at least {required_per_class(5, 0.2)}" in text
    assert "(validation.folds)" in text


# --------------------------------------------------------------------------- columns

def test_missing_label_column_did_you_mean(tmp_path):
    write_csv(tmp_path, catalogue().rename(columns={"class": "klass"}))
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path))
    text = info.value.render()
    assert "label column 'class' is not in the catalogue" in text
    assert "did you mean 'klass'" in text.lower()
    assert "(data.label)" in text


def test_missing_feature_column(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, features="[u, gg]"))
    text = info.value.render()
    assert "feature 'gg' is not in the catalogue" in text and "'g'" in text
    assert "(data.features)" in text


def test_non_numeric_feature(tmp_path):
    frame = catalogue()
    frame["g"] = ["bright", "faint"] * (N // 2)
    write_csv(tmp_path, frame)
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path))
    text = info.value.render()
    assert "feature 'g' is not numeric" in text and "'bright'" in text


def _with_text_cells(frame: pd.DataFrame, column: str, cells: dict[int, str]) -> pd.DataFrame:
    frame = frame.astype({column: object})
    for row, text in cells.items():
        frame.loc[row, column] = text
    return frame


def _load_error(tmp_path, frame: pd.DataFrame, error: type = DataError, **project_options) -> str:
    """The rendered message of loading `frame` (as cat.csv) with the project options."""
    write_csv(tmp_path, frame)
    with pytest.raises(error) as info:
        load_dataset(project(tmp_path, **project_options))
    return info.value.render()


def test_numeric_column_with_a_few_bad_cells_names_them_by_data_row(tmp_path):
    text = _load_error(tmp_path, _with_text_cells(catalogue(), "u", {4: "--", 16: "21.3e"}))
    assert "feature 'u' has 2 cells that are not numbers: '--' in data row 5, '21.3e' in data row 17" in text
    assert "data row 1 is the first row below the header" in text
    assert "(data.features)" in text and "empty them" in text


def test_many_bad_cells_are_counted_and_a_few_quoted(tmp_path):
    text = _load_error(tmp_path, _with_text_cells(catalogue(), "g", {row: "n/d" for row in range(0, 16, 2)}))
    assert "feature 'g' has 8 cells that are not numbers" in text
    assert "'n/d' in data row 9 and 3 more" in text and "data row 11" not in text


def test_empty_and_na_cells_beside_a_bad_cell_are_missing_not_bad(tmp_path):
    text = _load_error(tmp_path, _with_text_cells(catalogue(), "u", {0: "", 1: "NA", 2: " ", 3: "x"}))
    assert "feature 'u' has 1 cell that is not a number: 'x' in data row 4 (" in text


def test_derived_feature_on_a_column_with_bad_cells_names_the_column_not_the_expression(tmp_path):
    text = _load_error(tmp_path, _with_text_cells(catalogue(), "u", {4: "--", 16: "21.3e"}),
                       extra_data='  derived: {u_g: "u - g"}\n')
    assert "(data.derived.u_g)" in text and "arithmetic" not in text
    assert "column 'u' (used in \"u - g\") has 2 cells that are not numbers: '--' in data row 5" in text


def test_class_definition_on_a_column_with_bad_cells_names_the_column(tmp_path):
    classes = {"galaxy": "class == 'GALAXY' and r < 30", "other": "class in ['STAR', 'QSO']"}
    text = _load_error(tmp_path, _with_text_cells(catalogue(), "r", {6: "?"}), classes=classes)
    assert "(classes.galaxy)" in text and "column 'r'" in text and "'?' in data row 7" in text


def test_derived_feature_that_is_nan_for_every_row(tmp_path):
    text = _load_error(tmp_path, catalogue(), ConfigError,
                       extra_data='  derived: {u_g: "u - g", lu: "log10(u - 100)"}\n')
    assert "(data.derived.lu)" in text and "(data.features)" not in text
    assert "derived feature 'lu' = \"log10(u - 100)\" is NaN for every row" in text
    assert "impute" not in text


def test_derived_feature_that_is_infinite_for_every_row(tmp_path):
    text = _load_error(tmp_path, catalogue(), ConfigError, extra_data='  derived: {ratio: "u / 0"}\n')
    assert "(data.derived.ratio)" in text and "is infinite for every row" in text


def test_infinite_feature_value(tmp_path):
    frame = catalogue()
    frame.loc[0, "u"] = np.inf  # row 0 is a GALAXY, so it is kept
    write_csv(tmp_path, frame)
    with pytest.raises(DataError, match="u contain infinite values"):
        load_dataset(project(tmp_path))


def test_infinite_value_in_dropped_row_is_harmless(tmp_path):
    frame = catalogue()
    frame.loc[3, "u"] = np.inf  # row 3 is UNKNOWN: dropped before the check
    write_csv(tmp_path, frame)
    assert np.isfinite(load_dataset(project(tmp_path)).X).all()


def test_missing_feature_values_become_nan(tmp_path):
    frame = catalogue()
    frame.loc[[0, 1], "g"] = np.nan
    write_csv(tmp_path, frame)
    ds = load_dataset(project(tmp_path))
    assert ds.missing_by_feature() == {"g": 2}


def test_derived_features_in_order_written(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    extra = '  derived: {u_g: "u - g", twice: "u_g * 2", g_r: "g - r"}\n'
    loaded = project(tmp_path, extra_data=extra)
    ds = load_dataset(loaded)
    assert ds.feature_names == ["u", "g", "u_g", "twice", "g_r"]
    kept = frame[frame["class"] != "UNKNOWN"]
    np.testing.assert_allclose(ds.X[:, 2], kept["u"] - kept["g"])
    np.testing.assert_allclose(ds.X[:, 3], 2 * (kept["u"] - kept["g"]))
    np.testing.assert_allclose(ds.X[:, 4], kept["g"] - kept["r"])
    again = load_dataset(loaded)
    assert again.feature_names == ds.feature_names
    np.testing.assert_array_equal(again.X, ds.X)


def test_derived_feature_listed_among_features_not_duplicated(tmp_path):
    write_csv(tmp_path, catalogue())
    ds = load_dataset(project(tmp_path, features="[u_g, u]", extra_data='  derived: {u_g: "u - g"}\n'))
    assert ds.feature_names == ["u_g", "u"]


def test_derived_feature_with_existing_column_name(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(ConfigError, match="name of an existing column"):
        load_dataset(project(tmp_path, extra_data='  derived: {g: "u - r"}\n'))


def test_features_exclude(tmp_path):
    write_csv(tmp_path, catalogue())
    ds = load_dataset(project(tmp_path, features="{exclude: [g]}"))
    assert ds.feature_names == ["u", "r"]  # the label is excluded automatically


def test_features_exclude_unknown_column(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(DataError, match="excluded column 'gg'"):
        load_dataset(project(tmp_path, features="{exclude: [gg]}"))


def test_default_features_are_numeric_columns_except_label(tmp_path):
    write_csv(tmp_path, catalogue())
    assert load_dataset(project(tmp_path, features=None)).feature_names == ["u", "g", "r"]


def test_label_listed_as_feature(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(ConfigError) as info:
        load_dataset(project(tmp_path, features="[u, class]"))
    assert "label column 'class' is listed as a feature" in info.value.render()


def test_feature_used_in_class_definition_warns(tmp_path):
    write_csv(tmp_path, catalogue())
    classes = {"galaxy": "class == 'GALAXY' and u > 0", "other": "class in ['STAR', 'QSO']"}
    ds = load_dataset(project(tmp_path, classes=classes))
    assert len(ds.warnings) == 1 and "u" in ds.warnings[0] and "class definitions" in ds.warnings[0]


# --------------------------------------------------------------------------- file formats

def test_parquet(tmp_path):
    frame = catalogue()
    frame.to_parquet(tmp_path / "cat.parquet")
    write_csv(tmp_path, frame)
    from_parquet = load_dataset(project(tmp_path, path="cat.parquet"))
    from_csv = load_dataset(project(tmp_path))
    np.testing.assert_array_equal(from_parquet.X, from_csv.X)
    np.testing.assert_array_equal(from_parquet.y, from_csv.y)


def test_tsv(tmp_path):
    catalogue().to_csv(tmp_path / "cat.tsv", sep="\t", index=False)
    assert load_dataset(project(tmp_path, path="cat.tsv")).n_rows == 30


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(project(tmp_path, path="nope.csv"))


def test_empty_file(tmp_path):
    (tmp_path / "cat.csv").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        load_dataset(project(tmp_path))


def test_header_only_file(tmp_path):
    (tmp_path / "cat.csv").write_text("u,g,r,class\n")
    with pytest.raises(DataError, match="header but no rows"):
        load_dataset(project(tmp_path))


def test_unsupported_extension(tmp_path):
    (tmp_path / "cat.json").write_text("{}")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path="cat.json"))
    text = info.value.render()
    assert "unsupported file type '.json'" in text and ".parquet" in text and "(data.path)" in text


def test_non_utf8_bytes(tmp_path):
    text = catalogue().to_csv(index=False).replace("GALAXY", "GAL\xc9XY", 1)
    (tmp_path / "cat.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(project(tmp_path))


def test_ragged_csv_long_line(tmp_path):
    lines = catalogue().to_csv(index=False).splitlines()
    lines[3] += ",1.0,extra"
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path))
    assert "same number of fields" in info.value.render()


def test_ragged_csv_short_line(tmp_path):
    lines = catalogue().to_csv(index=False).splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]  # the first GALAXY row loses its class field
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError):
        load_dataset(project(tmp_path))


def test_duplicate_column_names(tmp_path):
    (tmp_path / "cat.csv").write_text("u,u,g,class\n" + "1,2,3,GALAXY\n" * 3)
    with pytest.raises(DataError, match="duplicate column names: u"):
        load_dataset(project(tmp_path))


# --------------------------------------------------------------------------- regression

def test_regression_target_nan_rows_dropped(tmp_path):
    frame = catalogue().drop(columns="class")
    rng = np.random.default_rng(1)
    frame["z"] = rng.uniform(0, 2, N)
    frame.loc[[2, 5, 7], "z"] = np.nan
    write_csv(tmp_path, frame)
    ds = load_dataset(project(tmp_path, task="regression", label="z", features="[u, g, r]"))
    assert ds.classes is None and ds.positive is None
    assert ds.dropped == {"with a missing or infinite target": 3}
    assert ds.n_rows == N - 3 and ds.n_rows_read == N
    np.testing.assert_allclose(ds.y, frame["z"].dropna().to_numpy())
    assert ds.class_counts() == {}


def test_regression_non_numeric_target(tmp_path):
    write_csv(tmp_path, catalogue())
    with pytest.raises(DataError, match="regression target 'class' is not numeric"):
        load_dataset(project(tmp_path, task="regression", features="[u, g]"))


def test_regression_too_few_rows(tmp_path):
    frame = catalogue(n=5).drop(columns="class").assign(z=[0.1, 0.2, 0.3, 0.4, 0.5])
    write_csv(tmp_path, frame)
    from mlproj.workflow.run import prepare

    with pytest.raises(DataError, match="too few"):
        prepare(project(tmp_path, task="regression", label="z", features="[u]",
                        validation="{folds: 5, repeats: 1}"))


# --------------------------------------------------------------------------- hashing

def test_file_hash_is_sha256_of_bytes(tmp_path):
    path = write_csv(tmp_path, catalogue())
    assert file_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    big = tmp_path / "big.bin"
    payload = bytes(range(256)) * 9000  # > one read chunk
    big.write_bytes(payload)
    assert file_hash(big) == hashlib.sha256(payload).hexdigest()
    assert load_dataset(project(tmp_path)).file_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_parquet_is_read_column_selectively(tmp_path, monkeypatch):
    import pandas as pd

    from mlproj.data import dataset as data_module

    frame = pd.DataFrame({"u": [1.0, 2.0] * 20, "g": [2.0, 1.0] * 20, "unused": ["x"] * 40,
                          "class": ["STAR", "GALAXY"] * 20})
    frame.to_parquet(tmp_path / "cat.parquet")
    text = """
name: t
objective: {statement: s, task: classification}
data: {path: cat.parquet, label: class, features: [u], derived: {ug: "u - g"}}
classes: {galaxy: "class == 'GALAXY'", star: "class == 'STAR'"}
positive: galaxy
metric: {primary: roc_auc}
finish_line: {threshold: 0.9}
validation: {folds: 2, repeats: 1}
"""
    import pyarrow.parquet as pq

    seen = {"columns": []}
    original = pq.ParquetFile.read

    def spy(self, columns=None, **kwargs):
        seen["columns"] += columns
        return original(self, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", spy)
    dataset = data_module.load_dataset(parse_project(text, tmp_path / "mlproj.yaml"))
    assert sorted(seen["columns"]) == ["class", "g", "u"]
    assert dataset.feature_names == ["u", "ug"]


def test_parquet_written_by_pandas_keeps_its_index_out_of_the_columns(tmp_path):
    frame = pd.DataFrame({"u": [1.0, 2.0, 3.0], "class": ["GALAXY", "STAR", "GALAXY"]}, index=[10, 20, 30])
    frame.to_parquet(tmp_path / "cat.parquet", index=True)
    from mlproj.data import dataset as data_module

    table = data_module.read_table(tmp_path / "cat.parquet", where="x")
    assert list(table.columns) == ["u", "class"]
    assert table["u"].tolist() == [1.0, 2.0, 3.0]


def test_parquet_with_duplicate_column_names_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlproj.data import dataset as data_module
    from mlproj.errors import DataError

    table = pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0]), pa.array(["STAR"])], names=["u", "u", "class"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(DataError, match="duplicate column names: u"):
        data_module.read_table(tmp_path / "dup.parquet", where="x")


# --------------------------------------------------------------------------- rows the reader would lose, files that are no files (issue 20)

def _lines(n: int = 120) -> list[str]:
    """A header and `n` data lines of u, g, r, class (GALAXY and STAR alternating)."""
    frame = catalogue(n)
    frame["class"] = (["GALAXY", "STAR"] * n)[:n]
    return frame.to_csv(index=False).splitlines()


def _quote_error(tmp_path, lines: list[str], name: str = "cat.csv", ending: str = "\n") -> DataError:
    (tmp_path / name).write_text(ending.join(lines) + ending, newline="")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path=name, classes={"galaxy": "class == 'GALAXY'",
                                                            "other": "class == 'STAR'"}))
    return info.value


@pytest.mark.parametrize("row", [100, 1, 120])
def test_an_unclosed_quote_is_named_not_silently_merged_rows(tmp_path, row):
    lines = _lines()
    lines[row] = lines[row].replace("STAR", '"STAR').replace("GALAXY", '"GALAXY')
    error = _quote_error(tmp_path, lines)
    text = error.render()
    assert "(data.path)" in error.where
    assert f"line {row + 1} (data row {row}) opens a quoted value" in text
    assert "up to the end of the file" in text
    # on the last line, no row is lost: the value takes the final line break (and matches no class)
    assert ("has a quote that never closes" if row == 120 else "has 120 data lines, but only") in text
    assert "class" not in error.where  # not blamed on the class definitions


def test_an_unclosed_quote_in_a_tsv_file_is_named(tmp_path):
    lines = [line.replace(",", "\t") for line in _lines()]
    lines[50] = lines[50].replace("\tSTAR", '\t"STAR').replace("\tGALAXY", '\t"GALAXY')
    assert "line 51 (data row 50) opens a quoted value" in _quote_error(tmp_path, lines, "cat.tsv").render()


def test_a_value_spanning_two_lines_is_said_not_silently_read(tmp_path):
    lines = _lines()
    lines[5] = lines[5].replace("GALAXY", '"GAL')
    lines.insert(6, 'AXY"')  # a legal CSV value with a line break: 120 rows from 121 data lines
    text = _quote_error(tmp_path, lines).render()
    assert "has 121 data lines, but only 120 rows were read" in text
    assert "line 6 (data row 5) opens a quoted value" in text and "up to line 7" in text


def test_a_quote_that_merges_lines_into_too_many_fields_is_named(tmp_path):
    lines = _lines()
    lines[5] = lines[5].replace("GALAXY", '"GAL')
    lines[6] = 'AXY",' + lines[6]  # the merged row has too many fields
    text = _quote_error(tmp_path, lines).render()
    assert "line 6 (data row 5) opens a quoted value" in text and "up to line 7" in text


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_blank_lines_and_line_endings_are_no_lost_rows(tmp_path, ending):
    lines = _lines(40)
    lines[1] = lines[1].replace("GALAXY", '"GALAXY"')  # quotes that close on their line are fine
    lines[2] = lines[2].replace("STAR", '"ST""AR"').replace('"ST""AR"', '"STAR"')
    lines.insert(10, "")
    lines.append("")
    (tmp_path / "cat.csv").write_text(ending.join(lines) + ending, newline="")
    dataset = load_dataset(project(tmp_path, classes={"galaxy": "class == 'GALAXY'", "other": "class == 'STAR'"}))
    assert dataset.n_rows_read == 40


def test_quoted_values_with_commas_and_escaped_quotes_are_read(tmp_path):
    lines = ["u,g,note,class"] + [f'{i},{i},"a, b ""c""",{"GALAXY" if i % 2 else "STAR"}' for i in range(40)]
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    dataset = load_dataset(project(tmp_path, classes={"galaxy": "class == 'GALAXY'", "other": "class == 'STAR'"}))
    assert dataset.n_rows_read == 40


def test_a_header_too_wide_for_the_reader_gives_the_column_count(tmp_path):
    from mlproj.data.dataset import read_table

    columns = 150_000
    (tmp_path / "wide.csv").write_text(",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join(["1"] * columns) + "\n")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "wide.csv", where="p.yaml:3 (data.path)")
    text = info.value.render()
    assert f"header line has {columns:,} columns" in text and "Empty CSV file" not in text


def test_a_line_too_long_for_the_reader_is_named(tmp_path):
    from mlproj.data.dataset import read_table

    lines = _lines(10)
    lines[4] += "x" * 3_000_000
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 5 is 3.0 MB long, more than the CSV reader can take"):
        read_table(tmp_path / "cat.csv", where="x")




def test_a_fifo_as_catalogue_is_refused_without_opening_it(tmp_path):
    import os

    os.mkfifo(tmp_path / "cat.csv")
    with pytest.raises(DataError) as info:
        within(20, load_dataset, project(tmp_path))
    assert "not a regular file but a named pipe (FIFO)" in info.value.render()
    assert "(data.path)" in info.value.where


@pytest.mark.parametrize("name", ["cat.csv", "devnull"])
def test_a_device_as_catalogue_is_refused(tmp_path, name):
    (tmp_path / name).symlink_to("/dev/null")  # a device that is safe to read by mistake (/dev/zero: tests/e2e)
    with pytest.raises(DataError, match="not a regular file but a character device"):
        within(20, load_dataset, project(tmp_path, path=name))


def test_a_symlink_loop_or_a_too_long_name_as_catalogue_names_data_path(tmp_path):
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path="a.csv"))
    assert "leads back to itself" in info.value.render() and "(data.path)" in info.value.where
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path="x" * 300 + ".csv"))
    assert "name is too long" in info.value.render() and "(data.path)" in info.value.where


def test_file_hash_refuses_what_is_not_a_regular_file(tmp_path):
    import os

    from mlproj.store.files import NotRegularFileError, read_bounded

    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", Path("/dev/null"), tmp_path):
        with pytest.raises(NotRegularFileError):
            within(20, file_hash, path)
        with pytest.raises(OSError):  # review.py reads a failing hash as "can no longer be read"
            within(20, read_bounded, path, 10)
    (tmp_path / "f.bin").write_bytes(b"abc" * 1000)
    assert file_hash(tmp_path / "f.bin") == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert read_bounded(tmp_path / "f.bin", 10) == (b"abc" * 4)[:11]  # the limit and one byte more
