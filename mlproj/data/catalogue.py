"""Catalogue files as astronomers have them (DESIGN §3).

Several files or a glob in `data.path` (concatenated, a `source` column naming the file), ASCII
tables as surveys dump them (`#` header and comment lines, whitespace-delimited columns,
SExtractor's numbered header, a comma header above whitespace data), FITS extensions by name or
number, units kept for the run's metadata, and an external labelled test set (`data.test_path`).

The cache is keyed on the table as read, not on the file's bytes (`content_hash`): the same
catalogue saved as FITS, as a `.cat` or split into CSV files gives the same task keys, so a change
of format refits nothing. The files' own hashes stay in environment.json for provenance and for
the staleness check of `mlproj verdict` (`current_files_hash`), which must stay cheap: this module
imports no pandas or numpy at import time.
"""

from __future__ import annotations

import glob
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlproj.errors import DataError

SOURCE_COLUMN = "source"  # the file each row came from, when there are several
TEST_MARKER = "__mlproj_test__"  # rows of data.test_path in the concatenated table (never a column of a file)
ASCII_SUFFIXES = (".cat", ".dat", ".txt")
HEAD_LINES = 200  # lines looked at to tell the layout of an ASCII file
_SEXTRACTOR = re.compile(rb"^#\s*\d+\s+[A-Za-z_]\w*")


@dataclass
class Catalogue:
    """A project's table as read, and what identifies it."""

    table: object  # pandas DataFrame
    source: Path  # the file, the glob that matched several, or a list's first file
    files: list[Path]
    file_hash: str  # SHA-256 of the file (one file), or of the files' names and hashes
    content_hash: str  # of the used columns' names, kinds and values, in row order
    units: dict[str, str] = field(default_factory=dict)
    test: object | None = None  # numpy bool mask of the rows read from data.test_path
    patterns: list[str] = field(default_factory=list)  # absolute globs, re-expanded by the staleness check


# ---------------------------------------------------------------------------------- the files

def catalogue_files(loaded, key: str = "path") -> tuple[list[Path], list[str]]:
    """The files named by data.<key> (a path, a glob or a list of them), and the absolute globs.

    Matches of a glob are sorted, so that the rows (and the fold indices) do not depend on the
    order the file system lists them in; a list keeps the order written."""
    value = getattr(loaded.project.data, key)
    entries = [value] if isinstance(value, str) else list(value)
    where = loaded.where("data", key)
    files, patterns = [], []
    for entry in entries:
        if glob.has_magic(entry):
            pattern = str(loaded.root / entry)
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise DataError(f"data.{key} '{entry}' matches no file", where=where,
                                hint=f"the pattern is relative to the project file's folder ({loaded.root}); "
                                     "check the name and the extension")
            patterns.append(pattern)
            files += [loaded.resolve(m) for m in matched]
        else:
            files.append(loaded.resolve(entry))
    seen = set()
    for path in files:
        if path in seen:
            raise DataError(f"data.{key} names the file {path.name} twice", where=where,
                            hint="list each catalogue file once: its rows would be counted twice")
        seen.add(path)
    return files, patterns


def read_catalogue(loaded, columns: list[str] | None) -> Catalogue:
    """The project's catalogue (data.path, and data.test_path below it with a marker)."""
    import numpy as np

    from mlproj.data import dataset

    files, patterns = catalogue_files(loaded, "path")
    test_files, test_patterns = catalogue_files(loaded, "test_path") if loaded.project.data.test_path else ([], [])
    if sum(_size(p) for p in files + test_files) >= dataset.LARGE_CATALOGUE_BYTES:
        dataset.map_large_allocations()
    hdu = loaded.project.data.hdu
    table, units = read_files(files, where=loaded.where("data", "path"), columns=columns, hdu=hdu)
    test = None
    if test_files:
        import pandas as pd

        extra, test_units = read_files(test_files, where=loaded.where("data", "test_path"), columns=columns, hdu=hdu)
        _same_columns([(files[0], table)], [(test_files[0], extra)], loaded.where("data", "test_path"),
                      columns, what="the catalogue of data.path")
        shared = [c for c in table.columns if c in extra.columns]
        table = pd.concat([table[shared], extra[shared]], ignore_index=True)
        test = np.zeros(len(table), dtype=bool)
        test[len(table) - len(extra):] = True
        units = {**test_units, **units}
    all_files = files + test_files
    names = None if columns is None else [c for c in columns if c in table.columns]
    content = content_hash(table, names, test)
    if len(all_files) == 1:
        from mlproj.store.files import file_hash

        digest = file_hash(all_files[0])
    else:
        digest = files_hash(all_files)
    # What reports name: the file, or the glob that found several (a list: its first file).
    source = Path(patterns[0]) if len(files) > 1 and isinstance(loaded.project.data.path, str) else files[0]
    return Catalogue(table, source, all_files, digest, content, units, test, patterns + test_patterns)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except (OSError, ValueError):  # reported by read_table, with the field
        return 0


def read_files(files: list[Path], *, where: str, columns: list[str] | None = None, hdu=None):
    """One table from one or several files (same columns), and the columns' units."""
    from mlproj.data.dataset import read_table

    tables = [(path, read_table(path, where=where, columns=columns, hdu=hdu)) for path in files]
    units: dict[str, str] = {}
    for _, table in reversed(tables):
        units.update(table.attrs.get("units", {}))
    if len(tables) == 1:
        return tables[0][1], units
    import pandas as pd

    _same_columns(tables[:1], tables[1:], where, columns, what="the first file")
    names = [c for c in tables[0][1].columns if columns is None or c in columns]
    label = SOURCE_COLUMN if SOURCE_COLUMN not in names else f"{SOURCE_COLUMN}_file"
    frame = pd.concat([t[names].assign(**{label: path.name}) for path, t in tables], ignore_index=True)
    frame.attrs = {}
    return frame, units


def _same_columns(reference, others, where: str, columns: list[str] | None, *, what: str) -> None:
    """Every file has the columns of the first (those the project reads, when it says which)."""
    ref_path, ref = reference[0]
    wanted = set(columns) if columns is not None else None

    def used(names) -> set[str]:
        return {str(n) for n in names if wanted is None or n in wanted}

    expected = used(ref.columns)
    for path, table in others:
        have = used(table.columns)
        missing, extra = sorted(expected - have), sorted(have - expected)
        if missing or extra:
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
                [f"has {', '.join(extra)} in addition"] if extra else [])
            raise DataError(f"catalogue file {path} does not have the columns of {what} ({ref_path.name}): it "
                            f"{' and '.join(parts)}", where=where,
                            hint="files read together must have the same columns: add or rename them, or "
                                 "leave that file out of the list or the pattern")


# ---------------------------------------------------------------------------------- hashing

def content_hash(table, columns: list[str] | None, test=None) -> str:
    """SHA-256 of the table as read: the used columns' names, kinds (number or text) and values,
    in row order (the fold indices are row numbers). Numbers are hashed as float64 and text as
    UTF-8, so that FITS, ASCII and CSV versions of one catalogue agree; the `source` column a
    multi-file read adds is left out unless the project uses it."""
    import numpy as np
    import pandas as pd

    names = list(columns) if columns is not None else [c for c in table.columns if c != SOURCE_COLUMN]
    digest = hashlib.sha256(f"mlproj-table-1:{len(table)}".encode())
    for name in sorted(set(names)):
        column = table[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            values = np.where(np.isnan(values), np.nan, values + 0.0)  # one NaN, and -0.0 == 0.0
            digest.update(f"\x1e{name}\x1fnumber\x1f".encode())
            digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
        else:
            cells = ["\x00" if _missing(v) else str(v) for v in column.tolist()]
            digest.update(f"\x1e{name}\x1ftext\x1f".encode())
            digest.update("\x1f".join(cells).encode("utf-8", "surrogatepass"))
    if test is not None:
        digest.update(b"\x1etest\x1f" + np.packbits(np.asarray(test, dtype=bool)).tobytes())
    return digest.hexdigest()


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def files_hash(files: list[Path]) -> str:
    """SHA-256 of several files' names and SHA-256s, in the order read."""
    from mlproj.store.files import file_hash

    digest = hashlib.sha256(b"mlproj-files-1")
    for path in files:
        digest.update(f"{path}\x1f{file_hash(path)}\n".encode())
    return digest.hexdigest()


def current_files_hash(recorded: dict) -> str | None:
    """The hash `files_hash` gives now for a run's recorded catalogue files (environment.json's
    `data`), the globs expanded again (a file added to the pattern changes the catalogue); None
    when a file is missing."""
    files = [Path(f["path"]) for f in recorded.get("files", [])]
    patterns = recorded.get("patterns") or []
    if patterns:
        matched = {Path(m).resolve() for p in patterns for m in glob.glob(p)}
        if not matched <= set(files):
            return "files added"
    try:
        if len(files) == 1:
            from mlproj.store.files import file_hash

            return file_hash(files[0])
        return files_hash(files)
    except OSError:
        return None


def provenance(files: list[Path], content: str, units: dict[str, str], patterns: list[str]) -> dict:
    """What environment.json's `data` records beside the path and the file hash."""
    from mlproj.store.files import file_hash

    extra: dict = {"content_sha256": content}
    if len(files) > 1 or patterns:
        extra["files"] = [{"path": str(p), "sha256": file_hash(p)} for p in files]
        extra["patterns"] = patterns
    if units:
        extra["units"] = dict(sorted(units.items()))
    return extra


# ---------------------------------------------------------------------------------- ASCII

def looks_like_ascii(path: Path) -> bool:
    """A .csv/.tsv/.txt file the CSV reader cannot take as it is: `#` lines at its head, a comma
    header above lines without commas, or (a .txt) no comma in its first line: whitespace columns."""
    head = _head(path, 2)
    if not head:
        return False
    first = head[0][1]
    if first.lstrip().startswith(b"#"):
        return True
    if len(head) > 1 and b"," in first and b"," not in head[1][1] and b"\t" not in head[1][1]:
        return True  # a comma header above whitespace-delimited data
    return path.suffix.lower() == ".txt" and b"," not in first and b"\t" not in first


def _head(path: Path, n: int) -> list[tuple[int, bytes]]:
    """The first `n` non-blank lines (line number, text without the line break)."""
    from mlproj.store.files import open_regular

    lines = []
    with open_regular(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip(b"\r\n")
            if text.strip():
                lines.append((number, text))
                if len(lines) >= n:
                    break
    return lines


def read_ascii(path: Path, where: str):
    """An ASCII catalogue through astropy.io.ascii, its layout told from its head.

    SExtractor's `#   1 NUMBER ...` header goes to astropy's `sextractor` reader (units kept).
    Otherwise the names are the last `#` line before the data when it has as many fields as a
    data line (a commented header, as many survey dumps have), else the first line (unless it
    holds numbers only: then col1, col2, ...); the names may be separated by commas above
    whitespace-delimited data. Every other `#` line is a comment.
    """
    import warnings

    from astropy.io import ascii as astropy_ascii
    from astropy.utils.exceptions import AstropyWarning

    head = _head(path, HEAD_LINES)
    comments = [(n, t) for n, t in head if t.lstrip().startswith(b"#")]
    data = [(n, t) for n, t in head if not t.lstrip().startswith(b"#")]
    if not data:
        raise DataError(f"catalogue {path} has no data lines (only comments)", where=where,
                        hint="check that the file holds the catalogue's rows")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        if comments and _SEXTRACTOR.match(comments[0][1].lstrip()):
            try:
                table = astropy_ascii.read(path, format="sextractor")
            except Exception as exc:  # noqa: BLE001 - astropy's parsers fail in many ways
                raise _ascii_error(path, exc, where, None, data[0][0]) from None
            return _frame(table)
        delimiter = "," if b"," in data[0][1] else None
        first_fields = _fields(data[0][1], delimiter)
        names, data_start = None, 0
        if comments and comments[-1][0] < data[0][0]:
            candidate = _fields(comments[-1][1].lstrip()[1:], "," if b"," in comments[-1][1] else None)
            if len(candidate) == len(first_fields):
                names = candidate
        if names is None and not all(_is_number(f) for f in first_fields):
            names = _fields(data[0][1], "," if b"," in data[0][1] else None)
            data_start = 1
            if len(data) > 1:
                delimiter = "," if b"," in data[1][1] else None
        if names is None:
            names = [f"col{i + 1}" for i in range(len(first_fields))]
        expected = len(names)
        options = {"delimiter": delimiter} if delimiter else {}
        try:
            table = astropy_ascii.read(path, format="no_header", names=names, data_start=data_start, comment=r"\s*#",
                                       guess=False, **options)
        except Exception as exc:  # noqa: BLE001
            raise _ascii_error(path, exc, where, (expected, delimiter, data_start), data[0][0]) from None
    return _frame(table)


def _fields(line: bytes, delimiter: str | None) -> list[str]:
    text = line.decode("utf-8", "replace")
    parts = text.split(delimiter) if delimiter else text.split()
    return [p.strip() for p in parts if not delimiter or True]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.lower() in ("nan", "inf", "-inf")
    return True


def _frame(table):
    """A DataFrame with the units of the columns in `attrs["units"]`."""
    units = {str(n): table[n].unit.to_string() for n in table.colnames if getattr(table[n], "unit", None) is not None}
    table.convert_bytestring_to_unicode()
    frame = table.to_pandas(index=False)
    frame.attrs["units"] = units
    return frame


def _ascii_error(path: Path, exc: Exception, where: str, layout, first_data_line: int) -> DataError:
    """The line at fault, found by counting fields line by line (astropy counts data lines only)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if layout is not None:
        from mlproj.store.files import open_regular

        expected, delimiter, data_start = layout
        skipped = 0
        with open_regular(path) as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip(b"\r\n")
                if not text.strip() or text.lstrip().startswith(b"#") or number < first_data_line:
                    continue
                if skipped < data_start:
                    skipped += 1
                    continue
                fields = _fields(text, delimiter)
                if len(fields) != expected:
                    return DataError(
                        f"cannot read catalogue {path}: line {number} has {len(fields)} fields, but the header "
                        f"names {expected} columns", where=f"{path}:{number}",
                        hint="check that every line has the same number of fields (an empty value needs a "
                             "placeholder such as nan or -99 in a whitespace-delimited file)")
    return DataError(f"cannot read catalogue {path}: {message}", where=where,
                     hint="check that the file is a complete ASCII table: one object per line, the same number "
                          "of fields on every line, `#` before comment lines")


# ---------------------------------------------------------------------------------- FITS

def check_hdu(path: Path, hdu: int | str, where: str) -> int | str:
    """data.hdu as astropy takes it, or an error listing the file's table extensions."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=True) as hdus:
            listed = [(i, h.name, isinstance(h, (fits.BinTableHDU, fits.TableHDU))) for i, h in enumerate(hdus)]
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the reader itself
        return hdu
    tables = ", ".join(f"{i} ({name})" for i, name, is_table in listed if is_table) or "none"
    found = [entry for entry in listed
             if (entry[0] == hdu if isinstance(hdu, int) else entry[1].upper() == str(hdu).upper())]
    if not found:
        raise DataError(f"FITS file {path.name} has no extension {hdu!r}", where=where,
                        hint=f"its table extensions are: {tables}; set data.hdu to one of them (a number or a name)")
    if not found[0][2]:
        raise DataError(f"extension {hdu!r} of {path.name} is an image, not a table", where=where,
                        hint=f"its table extensions are: {tables}")
    return found[0][0]


# ---------------------------------------------------------------------------------- predict

def parse_column_map(text: str | None, map_file: Path | None) -> dict[str, str]:
    """`--columns new=project,...` and `--map FILE.yaml` ({new: project}) as one mapping."""
    mapping: dict[str, str] = {}
    if map_file is not None:
        import yaml

        try:
            loaded = yaml.safe_load(map_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise DataError(f"cannot read the column map {map_file}: {str(exc).splitlines()[0]}",
                            hint="--map names a YAML file of lines `new_name: project_name`") from None
        if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in loaded.items()):
            raise DataError(f"the column map {map_file} is not a mapping of names",
                            hint="write one line `new_name: project_name` per renamed column")
        mapping.update(loaded)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        new, sep, old = part.partition("=")
        if not sep or not new.strip() or not old.strip():
            raise DataError(f"--columns: '{part.strip()}' is not new_name=project_name",
                            hint="e.g. --columns psfMag_r=r,psfMag_g=g (the new catalogue's name first)")
        mapping[new.strip()] = old.strip()
    return mapping


def renamed(table, mapping: dict[str, str], path: Path):
    """A copy of `table` with the new catalogue's names turned into the project's."""
    import difflib

    unknown = [name for name in mapping if name not in table.columns]
    if unknown:
        close = {n: difflib.get_close_matches(n, [str(c) for c in table.columns], n=1) for n in unknown}
        guesses = "; ".join(f"'{n}': did you mean '{c[0]}'?" for n, c in close.items() if c)
        raise DataError(f"the column map names {', '.join(repr(n) for n in unknown)}, not in {path.name}",
                        hint=(guesses + " " if guesses else "") + "the map goes from the new catalogue's column "
                        f"names to the project's (new=project); {path.name} has: "
                        f"{', '.join(map(str, list(table.columns)[:15]))}")
    kept = [c for c in table.columns if c not in mapping]
    clash = sorted(set(mapping.values()) & set(kept))
    if clash:
        raise DataError(f"the column map renames columns of {path.name} to {', '.join(clash)}, which it already has",
                        hint="map only the columns whose names differ, or map the existing one away too")
    return table.rename(columns=mapping).copy()


def write_fits(frame, handle) -> None:
    """A DataFrame as a FITS binary table (astropy), to an open binary file."""
    import warnings

    from astropy.table import Table
    from astropy.utils.exceptions import AstropyWarning

    table = Table.from_pandas(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)  # long column names become HIERARCH cards
        table.write(handle, format="fits")
