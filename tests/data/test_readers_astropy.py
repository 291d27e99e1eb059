"""Catalogues in the formats of astronomy (FITS, VOTable, ECSV) read through astropy."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from mlproj.data.dataset import load_dataset, read_table, reader_for
from mlproj.errors import DataError
from tests.data.test_dataset import catalogue, project, write_csv


def astropy_table(frame, big_endian: bool = False) -> Table:
    table = Table.from_pandas(frame)
    if big_endian:  # what FITS files hold
        for name in ("u", "g", "r"):
            table[name] = table[name].astype(">f8")
    table["class"] = np.array([s.encode() for s in frame["class"]])  # FITS text is bytes
    return table


@pytest.mark.parametrize("name, fmt", [("cat.fits", "fits"), ("cat.vot", "votable"), ("cat.ecsv", "ascii.ecsv")])
def test_astronomy_formats_read_like_csv(tmp_path, name, fmt):
    frame = catalogue()
    write_csv(tmp_path, frame)
    astropy_table(frame, big_endian=fmt == "fits").write(tmp_path / name, format=fmt)
    from_csv = load_dataset(project(tmp_path))
    read = load_dataset(project(tmp_path, path=name))
    np.testing.assert_array_equal(read.X, from_csv.X)
    np.testing.assert_array_equal(read.y, from_csv.y)
    assert read.classes == from_csv.classes


def test_gzipped_fits(tmp_path):
    frame = catalogue()
    astropy_table(frame).write(tmp_path / "cat.fits", format="fits")
    (tmp_path / "cat.fits.gz").write_bytes(gzip.compress((tmp_path / "cat.fits").read_bytes()))
    assert reader_for(Path("x.FITS.gz")) == "fits"
    assert load_dataset(project(tmp_path, path="cat.fits.gz")).X.shape == (30, 2)


def test_masked_values_are_missing(tmp_path):
    frame = catalogue()
    table = astropy_table(frame)
    table["u"] = MaskedColumn(frame["u"], mask=np.arange(len(frame)) == 0)
    table["g"] = MaskedColumn(frame["g"].round().astype(np.int32), mask=np.arange(len(frame)) == 4)
    table.write(tmp_path / "cat.vot", format="votable")
    dataset = load_dataset(project(tmp_path, path="cat.vot", extra_data="  missing: impute\n"))
    assert np.isnan(dataset.X[0, 0]) and np.isnan(dataset.X[3, 1])  # row 4 is the 4th kept (UNKNOWN dropped)
    assert np.isfinite(dataset.X[1:, 0]).all()


def test_only_needed_columns_are_converted_and_array_columns_are_left_out(tmp_path):
    frame = catalogue()
    table = astropy_table(frame)
    table["spectrum"] = np.zeros((len(frame), 5))
    table.write(tmp_path / "cat.fits", format="fits")
    assert list(read_table(tmp_path / "cat.fits", where="w", columns=["u", "class"]).columns) == ["u", "class"]
    everything = read_table(tmp_path / "cat.fits", where="w")
    assert "spectrum" not in everything.columns and {"u", "g", "r", "class"} <= set(everything.columns)


def test_array_column_used_as_feature_is_a_clear_error(tmp_path):
    frame = catalogue()
    table = astropy_table(frame)
    table["mags"] = np.zeros((len(frame), 5))
    table.write(tmp_path / "cat.fits", format="fits")
    with pytest.raises(DataError, match="mags of cat.fits hold an array per object") as caught:
        load_dataset(project(tmp_path, path="cat.fits", features="[u, mags]"))
    assert "data.path" in str(caught.value.where) or "mlproj.yaml" in str(caught.value.where)


@pytest.mark.parametrize("name, content", [("cat.fits", b"SIMPLE  =                    T" + b" " * 50),
                                           ("cat.vot", b"<VOTABLE><broken"), ("cat.ecsv", b"# %ECSV 1.0\n# ---\nnot yaml: [")])
def test_unreadable_astronomy_files_are_data_errors(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=f"cannot read catalogue .*{name}") as caught:
        load_dataset(project(tmp_path, path=name))
    assert "ignore_missing_simple" not in str(caught.value)  # no reader options a project cannot set


def test_unknown_extension_names_the_supported_ones(tmp_path):
    (tmp_path / "cat.hdf5").write_bytes(b"x")
    with pytest.raises(DataError) as caught:
        load_dataset(project(tmp_path, path="cat.hdf5"))
    assert ".fits" in caught.value.hint and ".vot" in caught.value.hint and ".ecsv" in caught.value.hint
