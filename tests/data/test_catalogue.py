"""Catalogue files as astronomers have them (mlproj.data.catalogue): ASCII layouts, several files,
FITS extensions, units, and the content hash that keys the cache."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from mlproj.data.catalogue import content_hash, current_files_hash, parse_column_map, renamed
from mlproj.data.dataset import load_dataset, read_table
from mlproj.errors import ConfigError, DataError
from tests.data.test_dataset import catalogue, project, write_csv


def whitespace_lines(frame, header: str) -> str:
    rows = [" ".join(str(v) for v in row) for row in frame.itertuples(index=False)]
    return header + "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------------- ASCII

def test_hash_header_and_comments_in_a_whitespace_cat(tmp_path):
    frame = catalogue()
    (tmp_path / "cat.cat").write_text(whitespace_lines(
        frame, "# survey dump, DR9\n# written by hand\n# u g r class\n"))
    table = read_table(tmp_path / "cat.cat", where="w")
    assert list(table.columns) == ["u", "g", "r", "class"]
    np.testing.assert_array_equal(table["u"].to_numpy(), frame["u"].to_numpy())
    assert table["class"].tolist() == frame["class"].tolist()


def test_comment_lines_between_rows_are_skipped(tmp_path):
    frame = catalogue(8)
    lines = whitespace_lines(frame, "u g r class\n").splitlines()
    lines.insert(3, "# a note in the middle")
    (tmp_path / "cat.dat").write_text("\n".join(lines) + "\n")
    table = read_table(tmp_path / "cat.dat", where="w")
    assert len(table) == 8 and list(table.columns) == ["u", "g", "r", "class"]


def test_whitespace_txt_and_csv_with_hash_header_read_like_csv(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    (tmp_path / "cat.txt").write_text(whitespace_lines(frame, "u g r class\n"))
    commented = "# exported from the archive\n# " + frame.to_csv(index=False)
    (tmp_path / "hashed.csv").write_text(commented)
    from_csv = load_dataset(project(tmp_path))
    for name in ("cat.txt", "hashed.csv"):
        read = load_dataset(project(tmp_path, path=name))
        np.testing.assert_array_equal(read.X, from_csv.X)
        np.testing.assert_array_equal(read.y, from_csv.y)
        assert read.data_hash == from_csv.data_hash


def test_sextractor_header_names_the_columns_and_keeps_units(tmp_path):
    (tmp_path / "sex.cat").write_text(
        "#   1 NUMBER          Running object number\n"
        "#   2 MAG_AUTO        Kron-like elliptical aperture magnitude         [mag]\n"
        "#   3 CLASS_STAR      S/G classifier output\n"
        "1 20.1 0.9\n2 19.3 0.1\n3 21.0 0.5\n")
    table = read_table(tmp_path / "sex.cat", where="w")
    assert list(table.columns) == ["NUMBER", "MAG_AUTO", "CLASS_STAR"]
    assert table["MAG_AUTO"].tolist() == [20.1, 19.3, 21.0]
    assert table.attrs["units"] == {"MAG_AUTO": "mag"}


def test_comma_header_above_whitespace_data(tmp_path):
    frame = catalogue(6)
    (tmp_path / "mixed.txt").write_text(whitespace_lines(frame, "u,g,r,class\n"))
    table = read_table(tmp_path / "mixed.txt", where="w")
    assert list(table.columns) == ["u", "g", "r", "class"]
    np.testing.assert_array_equal(table["r"].to_numpy(), frame["r"].to_numpy())


def test_parse_error_names_the_file_and_the_line(tmp_path):
    frame = catalogue(6)
    lines = whitespace_lines(frame, "# comment\n# u g r class\n").splitlines()
    lines[5] = "20.1 19.2 STAR"  # one field short, on the sixth line of the file
    (tmp_path / "bad.cat").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "bad.cat", where="w")
    assert "line 6 has 3 fields" in info.value.message and "4 columns" in info.value.message
    assert info.value.where == f"{tmp_path / 'bad.cat'}:6"


# ---------------------------------------------------------------------------------- several files

def test_glob_concatenates_sorted_files_with_a_source_column(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    (tmp_path / "parts").mkdir()
    write_csv(tmp_path / "parts", frame.iloc[20:], "part-2.csv")
    write_csv(tmp_path / "parts", frame.iloc[:20], "part-1.csv")
    read = load_dataset(project(tmp_path, path="'parts/part-*.csv'"))
    whole = load_dataset(project(tmp_path))
    np.testing.assert_array_equal(read.X, whole.X)
    assert read.data_hash == whole.data_hash  # the source column is not part of the content
    assert read.file_hash != whole.file_hash
    assert [p.name for p in read.files] == ["part-1.csv", "part-2.csv"]
    table = read_table(tmp_path / "parts" / "part-1.csv", where="w")
    from mlproj.data.catalogue import read_files

    both, _ = read_files(read.files, where="w")
    assert both["source"].tolist() == ["part-1.csv"] * 20 + ["part-2.csv"] * 20
    assert list(both.columns) == [*table.columns, "source"]


def test_a_list_of_files_of_different_formats(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame.iloc[:20], "a.csv")
    Table.from_pandas(frame.iloc[20:].reset_index(drop=True)).write(tmp_path / "b.fits")
    read = load_dataset(project(tmp_path, path="[a.csv, b.fits]"))
    write_csv(tmp_path, frame)
    np.testing.assert_array_equal(read.X, load_dataset(project(tmp_path)).X)


def test_files_with_different_columns_are_named(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame.iloc[:20], "part-1.csv")
    write_csv(tmp_path, frame.iloc[20:].drop(columns=["g"]).assign(i=1.0), "part-2.csv")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path="'part-*.csv'", features=None))
    assert "part-2.csv" in info.value.message and "lacks g" in info.value.message
    assert "has i in addition" in info.value.message


def test_a_glob_without_match(tmp_path):
    with pytest.raises(DataError, match=r"'cats/\*\.csv' matches no file"):
        load_dataset(project(tmp_path, path="'cats/*.csv'"))


def test_staleness_sees_a_file_added_to_the_glob(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame.iloc[:20], "part-1.csv")
    write_csv(tmp_path, frame.iloc[20:], "part-2.csv")
    dataset = load_dataset(project(tmp_path, path="'part-*.csv'"))
    recorded = dataset.provenance()
    assert current_files_hash(recorded) == dataset.file_hash
    write_csv(tmp_path, frame.iloc[:5], "part-3.csv")
    assert current_files_hash(recorded) != dataset.file_hash
    (tmp_path / "part-3.csv").unlink()
    write_csv(tmp_path, frame.iloc[20:30], "part-2.csv")
    assert current_files_hash(recorded) != dataset.file_hash


# ---------------------------------------------------------------------------------- FITS

def fits_with_two_tables(path, frame):
    first = fits.BinTableHDU(Table.from_pandas(frame.iloc[:10].reset_index(drop=True)), name="SUMMARY")
    second = Table.from_pandas(frame)
    second["u"].unit = u.mag
    fits.HDUList([fits.PrimaryHDU(), first, fits.BinTableHDU(second, name="CATALOG")]).writeto(path)


@pytest.mark.parametrize("hdu", ["2", "CATALOG", "catalog"])
def test_fits_extension_by_number_or_name(tmp_path, hdu):
    frame = catalogue()
    fits_with_two_tables(tmp_path / "cat.fits", frame)
    dataset = load_dataset(project(tmp_path, path="cat.fits", extra_data=f"  hdu: {hdu}\n"))
    assert dataset.n_rows_read == len(frame)
    assert dataset.units == {"u": "mag"}
    assert load_dataset(project(tmp_path, path="cat.fits")).n_rows_read == 10  # the first table by default


def test_an_unknown_extension_lists_the_tables(tmp_path):
    fits_with_two_tables(tmp_path / "cat.fits", catalogue())
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, path="cat.fits", extra_data="  hdu: EVENTS\n"))
    assert "no extension 'EVENTS'" in info.value.message and "2 (CATALOG)" in info.value.hint
    with pytest.raises(DataError, match="an image, not a table"):
        load_dataset(project(tmp_path, path="cat.fits", extra_data="  hdu: 0\n"))


def test_units_of_an_ecsv_are_kept_for_the_features(tmp_path):
    table = Table.from_pandas(catalogue())
    table["u"].unit, table["r"].unit = u.mag, u.mag
    table.write(tmp_path / "cat.ecsv")
    dataset = load_dataset(project(tmp_path, path="cat.ecsv"))
    assert dataset.units == {"u": "mag"}  # r is not a feature
    assert dataset.provenance()["units"] == {"u": "mag"}


# ---------------------------------------------------------------------------------- content hash

def test_content_hash_follows_values_and_row_order_not_the_format(tmp_path):
    frame = catalogue()
    columns = ["u", "class"]
    base = content_hash(frame, columns)
    assert content_hash(frame.assign(g=0.0), columns) == base  # an unused column
    assert content_hash(frame.astype({"u": "float32"}).astype({"u": "float64"}), columns) != base
    assert content_hash(frame.iloc[::-1].reset_index(drop=True), columns) != base
    changed = frame.copy()
    changed.loc[3, "class"] = "STAR"
    assert content_hash(changed, columns) != base
    ints = frame.assign(n=np.arange(len(frame)))
    assert content_hash(ints, ["n"]) == content_hash(ints.astype({"n": "float64"}), ["n"])


def test_fits_and_csv_of_one_catalogue_have_one_fingerprint(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    Table.from_pandas(frame).write(tmp_path / "cat.fits")
    csv, fits_read = load_dataset(project(tmp_path)), load_dataset(project(tmp_path, path="cat.fits"))
    assert csv.fingerprint == fits_read.fingerprint
    assert csv.file_hash != fits_read.file_hash


# ---------------------------------------------------------------------------------- test_path

def test_test_path_rows_are_the_test_set(tmp_path):
    frame = catalogue()
    write_csv(tmp_path, frame)
    write_csv(tmp_path, catalogue(20, seed=1), "eval.csv")
    dataset = load_dataset(project(tmp_path, extra_data="  test_path: eval.csv\n"))
    n_main = 30  # 10 UNKNOWN rows of 40 match no class
    np.testing.assert_array_equal(dataset.test_rows, np.arange(n_main, n_main + 15))
    from mlproj.plan.splits import make_splits

    splits = make_splits(strategy="stratified", task="classification", labels=dataset.y, n_folds=2, repeats=1,
                         seed=0, test_size=0.2, test_rows=dataset.test_rows)
    np.testing.assert_array_equal(splits.test, dataset.test_rows)
    np.testing.assert_array_equal(splits.development, np.arange(n_main))


def test_test_path_with_test_size_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="test_size and data.test_path are both set"):
        project(tmp_path, extra_data="  test_path: eval.csv\n", validation="{folds: 2, repeats: 1, test_size: 0.3}")


def test_new_keys_keep_the_config_hash(tmp_path):
    plain = project(tmp_path)
    assert plain.config_hash == project(tmp_path, extra_data="  hdu: null\n  test_path: null\n").config_hash
    assert plain.config_hash != project(tmp_path, extra_data="  hdu: 2\n").config_hash


# ---------------------------------------------------------------------------------- predict's column map

def test_column_map_from_option_and_file(tmp_path):
    (tmp_path / "map.yaml").write_text("psfMag_u: u\n")
    assert parse_column_map("psfMag_g=g, psfMag_r=r", tmp_path / "map.yaml") == {
        "psfMag_u": "u", "psfMag_g": "g", "psfMag_r": "r"}
    with pytest.raises(DataError, match="not new_name=project_name"):
        parse_column_map("psfMag_g", None)


def test_column_map_with_unknown_names(tmp_path):
    frame = catalogue().rename(columns={"u": "psfMag_u"})
    assert list(renamed(frame, {"psfMag_u": "u"}, tmp_path / "new.csv").columns)[:2] == ["u", "g"]
    with pytest.raises(DataError) as info:
        renamed(frame, {"psfMag_x": "u"}, tmp_path / "new.csv")
    assert "'psfMag_x'" in info.value.message and "psfMag_u" in info.value.hint


def test_a_test_catalogue_with_other_columns_is_named(tmp_path):
    write_csv(tmp_path, catalogue())
    write_csv(tmp_path, catalogue(20, seed=1).drop(columns=["g"]), "eval.csv")
    with pytest.raises(DataError) as info:
        load_dataset(project(tmp_path, extra_data="  test_path: eval.csv\n"))
    assert "eval.csv" in info.value.message and "lacks g" in info.value.message
    assert "test_path" in info.value.where
