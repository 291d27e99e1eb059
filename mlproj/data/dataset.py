"""Reading catalogues and turning them into labels and features.

The project file's operational class definitions and derived features are evaluated here, on
the raw table, with the safe expression evaluator. Every check a scientist can fail (missing
column, text in a feature, a class with too few objects) ends in a DataError or ConfigError
that names the column and says what to do.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from mlproj.errors import ConfigError, DataError
from mlproj.memory import map_large_allocations, return_freed_memory  # noqa: F401 - catalogue calls it here
from mlproj.project.expressions import parse_expression
from mlproj.project.loading import LoadedProject
from mlproj.store.files import file_hash, file_kind, open_regular, path_problem  # noqa: F401 - file_hash re-exported

READERS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".fits": "fits", ".fit": "fits", ".fts": "fits", ".fits.gz": "fits", ".vot": "votable",
           ".votable": "votable", ".ecsv": "ecsv", ".cat": "ascii", ".dat": "ascii"}


def reader_for(path: Path) -> str | None:
    """The reader of a catalogue file by its extension (`.fits.gz` counts as one)."""
    name = path.name.lower()
    return READERS.get(".fits.gz") if name.endswith(".fits.gz") else READERS.get(path.suffix.lower())


@dataclass
class Dataset:
    """Labels and features ready for fitting, and what it took to get there."""

    X: np.ndarray  # float64, C-contiguous, rows × features
    y: np.ndarray  # class indices (classification) or float targets (regression)
    feature_names: list[str]
    classes: list[str] | None
    positive: int | None
    source: Path
    file_hash: str
    n_rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)  # reason → rows dropped
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing to fix (strong physical features)
    # The classical method's predictions, aligned with the rows: a score (higher = positive),
    # one-hot class probabilities, or regression values.
    errors: np.ndarray | None = None  # 1σ Gaussian errors aligned with X (0 where none is given)
    # (2, rows, features): low and high end of the range a non-detection's true value lies in, NaN elsewhere
    limit_ranges: np.ndarray | None = None
    historical: np.ndarray | None = None
    groups: np.ndarray | None = None
    order: np.ndarray | None = None
    # Derived features from drawn measurements, for augmented copies and input draws (None: no
    # derived feature depends on a value with an error or a non-detection range)
    recompute: DerivedFeatures | None = None
    sentinels: dict[str, int] = field(default_factory=dict)  # column -> sentinel values made missing
    # The table as read (mlproj.data.catalogue.content_hash): the task keys' data fingerprint, so that
    # another file format of the same catalogue refits nothing; file_hash stays the files' for provenance.
    data_hash: str = ""
    files: list[Path] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)  # data.path's globs, absolute
    units: dict[str, str] = field(default_factory=dict)  # feature -> unit (FITS, VOTable, ECSV, SExtractor)
    test_rows: np.ndarray | None = None  # the rows of data.test_path: the held-out test set

    @property
    def fingerprint(self) -> str:
        return self.data_hash or self.file_hash

    def provenance(self) -> dict:
        """environment.json's `data` beyond the path and the file hash."""
        from mlproj.data.catalogue import provenance

        return provenance(self.files, self.data_hash, self.units, self.patterns) if self.data_hash else {}

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def class_counts(self) -> dict[str, int]:
        if self.classes is None:
            return {}
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts)}

    def missing_by_feature(self) -> dict[str, int]:
        counts = np.isnan(self.X).sum(axis=0)
        return {name: int(c) for name, c in zip(self.feature_names, counts) if c}


def needed_columns(loaded: LoadedProject) -> list[str] | None:
    """Columns a project reads, so that large Parquet files are read column by column; None = all."""
    data, project = loaded.project.data, loaded.project
    if not isinstance(data.features, list):
        return None
    texts = list(data.derived.values()) + list((project.classes or {}).values())
    names = {data.label, *data.features, *data.errors, *data.errors.values(), *data.limits}
    names |= {n for n in (data.groups, data.order) if n}
    names |= {spec.flag for spec in data.limits.values() if spec.flag}
    names |= {spec.value for spec in data.limits.values() if isinstance(spec.value, str)}
    # A flag or a bound may be an expression ("f < 2 * e"): the columns it reads are needed too.
    texts += [t for spec in data.limits.values() for t in (spec.flag, spec.value) if isinstance(t, str)]
    if project.historical is not None:
        names.add(project.historical.column)
    for text in texts:
        try:
            names |= set(parse_expression(text, context="").names)
        except ConfigError:
            return None  # reported properly when the expression is evaluated
    return sorted(names - set(data.derived))


def read_table(path: Path, *, where: str, columns: list[str] | None = None, hdu: int | str | None = None):
    """Read a catalogue into a pandas DataFrame, with readable errors for unreadable files.

    `hdu`: the FITS extension (number or name; None: the first table). Units of FITS, VOTable,
    ECSV and SExtractor columns are in the frame's `attrs["units"]` (mlproj.data.catalogue)."""

    kind = reader_for(path)
    # Stat, never open, before the reader does: a FIFO would block, /dev/zero would never end.
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as exc:  # a symlink loop, a name too long, a NUL byte
        raise DataError(f"cannot read catalogue {path}: {path_problem(exc)}", where=where,
                        hint="check data.path; it is relative to the project file") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise DataError(f"{path} is a folder, not a catalogue file", where=where,
                        hint="name the catalogue file itself")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise DataError(f"catalogue {path} is not a regular file but {file_kind(info.st_mode)}", where=where,
                        hint="name a catalogue file; mlproj reads no pipes or devices (save a stream to a file first)")
    if kind is None:
        raise DataError(
            f"cannot read '{path.name}': unsupported file type '{path.suffix}'",
            where=where,
            hint=f"use one of {', '.join(sorted(set(READERS)))}, or convert the catalogue (e.g. with TOPCAT)",
        )
    if info is None:
        raise DataError(f"catalogue file {path} does not exist", where=where,
                        hint="check data.path; it is relative to the project file")
    if info.st_size == 0:
        raise DataError(f"catalogue file {path} is empty", where=where)
    try:
        from mlproj.data import catalogue

        if kind == "ascii" or (kind == "csv" and catalogue.looks_like_ascii(path)):
            table = catalogue.read_ascii(path, where)
        elif kind == "csv":
            table = _read_csv(path, where)
        elif kind == "parquet":
            table = _read_parquet(path, columns, where)
        else:
            table = _read_astropy(path, kind, columns, where, hdu)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("check that every line has the same number of fields" if "columns" in first
                else "check that the file is a complete, uncorrupted catalogue")
        raise DataError(f"cannot read catalogue {path}: {first}", where=where, hint=hint) from None
    if len(table) == 0:
        raise DataError(f"catalogue {path} has a header but no rows", where=where)
    duplicated = table.columns[table.columns.duplicated()].tolist()
    if duplicated or any(str(c).endswith(".1") and str(c)[:-2] in table.columns for c in table.columns):
        names = duplicated or [c[:-2] for c in table.columns if str(c).endswith(".1") and str(c)[:-2] in table.columns]
        raise DataError(f"catalogue {path} has duplicate column names: {', '.join(map(str, names))}",
                        where=where, hint="rename the columns so that each name is unique")
    table.columns = [str(c) for c in table.columns]
    return table


def _read_parquet(path: Path, columns: list[str] | None, where: str):
    """The needed columns, one at a time: decoding a whole file at once needs about twice the
    table's size on top of it; column by column, the peak stays close to the table itself."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    names = [n for n in schema.names if n not in index]
    if columns is not None:
        # Missing names are left out here, so that the column check reports them by name.
        names = [n for n in names if n in set(columns)]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"catalogue {path} has duplicate column names: {', '.join(duplicated)}", where=where,
                        hint="rename the columns so that each name is unique")
    arrays = {}
    for name in names:
        arrays[name] = parquet.read(columns=[name]).column(0)
        return_freed_memory()
    return _to_pandas(pa.table(arrays) if arrays else parquet.read(columns=[]))


def _read_astropy(path: Path, kind: str, columns: list[str] | None, where: str, hdu: int | str | None = None):
    """FITS (the first table extension, or `hdu`), VOTable and ECSV through astropy.

    Only the needed columns are converted (FITS columns are memory-mapped until then). Masked
    values become missing values, FITS byte strings become text, big-endian numbers are
    converted to the machine's order by pandas; units go to the frame's attrs["units"].
    """
    import warnings

    from astropy.table import Table
    from astropy.utils.exceptions import AstropyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)  # unknown units, several tables: not our concern
        formats = {"fits": "fits", "votable": "votable", "ecsv": "ascii.ecsv"}
        options = {"memmap": True} if kind == "fits" else {}
        if kind == "fits" and hdu is not None:
            from mlproj.data.catalogue import check_hdu

            options["hdu"] = check_hdu(path, hdu, where)
        try:
            table = Table.read(path, format=formats[kind], **options)
        except Exception as exc:  # noqa: BLE001 - astropy's parsers fail on broken files in many ways
            # astropy's hints name reader options (ignore_missing_simple=True) a project cannot pass
            message = str(exc).split(" If this is really")[0]
            raise ValueError(message if isinstance(exc, (OSError, ValueError))
                             else f"{type(exc).__name__}: {message}") from None
    wanted = set(columns) if columns is not None else None
    # Without a column list every column is a candidate feature: those holding arrays are left out.
    names = [n for n in table.colnames if (n in wanted if wanted is not None else table[n].ndim == 1)]
    arrays = [n for n in names if table[n].ndim > 1]
    if arrays:
        raise DataError(f"column(s) {', '.join(arrays)} of {path.name} hold an array per object "
                        f"(shape {table[arrays[0]].shape[1:]}), not one value", where=where,
                        hint="use one element per column (e.g. split a magnitude vector into bands) before reading")
    table = table[names] if names else Table()
    units = {str(n): table[n].unit.to_string() for n in table.colnames if table[n].unit is not None}
    table.convert_bytestring_to_unicode()
    frame = table.to_pandas(index=False)
    frame.attrs["units"] = units
    del table
    return_freed_memory()
    return frame


def _to_pandas(table):
    """A DataFrame that does not double the catalogue in memory on the way.

    One block per column (no consolidation copy; numeric columns share Arrow's buffers), Arrow
    frees each column once converted, and its allocator returns freed memory to the system
    (pyarrow's documented recipe for large tables).
    """

    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    return_freed_memory()
    return frame


def _read_csv(path: Path, where: str):
    """CSV/TSV through pyarrow: multi-threaded, and strict where pandas' own parser is lenient.

    pandas pads a line with too few fields with missing values, which would silently shift a
    catalogue's meaning; pyarrow rejects it. Text that is not UTF-8 arrives as a binary column.
    """
    from pyarrow import csv as arrow_csv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    parse = arrow_csv.ParseOptions(delimiter=delimiter)
    try:
        table = arrow_csv.read_csv(path, read_options=arrow_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                                   parse_options=parse)
    except ValueError as exc:  # pyarrow.ArrowInvalid
        # "Empty CSV file or block" / "straddling object": a line longer than a block, not an empty file
        if "Empty CSV file or block" in str(exc) or "straddl" in str(exc):
            long_line = _long_line_error(path, delimiter.encode(), where)
            if long_line is not None:
                raise long_line from None
        if "straddl" in str(exc) or "Expected" in str(exc):  # "Expected 4 columns, got 8: <the row>"
            scan = _scan_lines(path, delimiter.encode())
            # a value spanning lines: the reader's row begins with the line that opens the quote
            if scan.opened is not None and ("straddl" in str(exc) or scan.opened_text[:40] in str(exc)):
                raise _open_quote_error(f"catalogue {path} cannot be read", scan, where) from None
        raise
    binary = [field.name for field in table.schema if str(field.type) in ("binary", "large_binary")]
    if binary:
        raise DataError(f"catalogue {path} is not UTF-8 text (column '{binary[0]}' has other bytes)",
                        where=where, hint="convert the file to UTF-8 or save it as Parquet")
    _check_row_count(path, table.num_rows, delimiter.encode(), where)
    return _to_pandas(table)


# pyarrow parses a CSV file in blocks of this size (its default); every line must fit in one.
CSV_BLOCK_BYTES = 1 << 20
_CHUNK = 1 << 20


def _check_row_count(path: Path, rows: int, delimiter: bytes, where: str) -> None:
    """One object per line, or an error: never fewer rows than data lines, silently.

    A quote that does not close on its line (`"STAR`) makes the reader take every line up to the
    next quote, or to the end of the file, as part of one value: the rows in between vanish. Blank
    lines, which the reader skips, are the only lines that are no row.
    """
    newlines, last = 0, b"\n"
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        # The common case: no blank line and no line break inside a value (else blank lines, counted
        # apart, must explain the difference). Then only the last line can hold a quote that never
        # closes: it takes the final line break into its value.
        lines = newlines + (last != b"\n")
        if (lines - 1 == rows or _non_blank_lines(path) - 1 == rows) and not _last_line_opens_quote(handle, delimiter):
            return
    scan = _scan_lines(path, delimiter)  # the slow, careful way: only to explain an error
    if scan.data_lines == rows and not scan.inside_at_end:  # blank lines explain the difference
        return
    read = f"{rows} row was" if rows == 1 else f"{rows} rows were"
    found = (f"catalogue {path} has {scan.data_lines} data lines, but {'only ' * (rows < scan.data_lines)}{read} read"
             if scan.data_lines != rows else f"catalogue {path} has a quote that never closes")
    if scan.opened is None:
        raise DataError(found, where=where,
                        hint="check the file for quotes (\") or line breaks inside values: mlproj reads one object "
                             "per line")
    raise _open_quote_error(found, scan, where)


def _last_line_opens_quote(handle, delimiter: bytes) -> bool:
    """Whether the last non-blank line opens a quoted value that it does not close."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - 2 * CSV_BLOCK_BYTES))  # a line the reader accepted is shorter
    lines = [line for line in handle.read().splitlines() if line]
    return bool(lines) and _ends_inside_quote(lines[-1], False, delimiter)


def _non_blank_lines(path: Path) -> int:
    """Lines that are not empty (the reader skips empty ones); \\n, \\r\\n and \\r end a line."""
    count, rest = 0, b""
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            buffer = rest + chunk
            cut = buffer.rfind(b"\n")
            if cut < 0:  # a lone CR ends a line too, unless it is the last byte (its LF may follow)
                cut = buffer.rfind(b"\r", 0, len(buffer) - 1)
            lines, rest = buffer[:cut + 1].splitlines(), buffer[cut + 1:]
            count += len(lines) - lines.count(b"")
    lines = rest.splitlines()
    return count + len(lines) - lines.count(b"")


@dataclass
class _LineScan:
    data_lines: int = 0  # non-blank lines after the header
    opened: tuple[int, int] | None = None  # (line, data row) of the first quote that does not close on its line
    opened_text: str = ""
    closed: int | None = None  # the line where that quoted value closes
    inside_at_end: bool = False  # a quoted value is open at the end of the file


def _scan_lines(path: Path, delimiter: bytes) -> _LineScan:
    scan, inside, header = _LineScan(), False, False
    for number, line in _physical_lines(path):
        if line and not header:
            header = True
        elif line:
            scan.data_lines += 1
        was_inside = inside
        inside = _ends_inside_quote(line, inside, delimiter)
        if inside and not was_inside and scan.opened is None:
            scan.opened, scan.opened_text = (number, scan.data_lines), line.decode("utf-8", "replace")
        elif was_inside and not inside and scan.opened is not None and scan.closed is None:
            scan.closed = number
    scan.inside_at_end = inside
    return scan


def _open_quote_error(found: str, scan: _LineScan, where: str) -> DataError:
    line, row = scan.opened
    until = f"up to line {scan.closed}" if scan.closed is not None else "up to the end of the file"
    return DataError(
        f"{found}: line {line} ({f'data row {row}' if row else 'the header'}) opens a quoted value (\") that does "
        f"not close on that line, so the lines from there {until} are read as one value",
        where=where,
        hint=f"close or remove the quote on line {line}; a value cannot span lines: mlproj reads one object "
             "per line",
    )


def _physical_lines(path: Path):
    """(line number, bytes without the line break) of every line; \\n, \\r\\n and \\r end a line."""
    rest, number = b"", 0
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            lines = (rest + chunk).splitlines(keepends=True)
            rest = lines.pop()  # perhaps incomplete, or a CR whose LF is in the next chunk
            for line in lines:
                number += 1
                yield number, line.rstrip(b"\r\n")
    if rest:
        yield number + 1, rest.rstrip(b"\r\n")


def _ends_inside_quote(line: bytes, inside: bool, delimiter: bytes) -> bool:
    """Whether a quoted value is still open at the end of `line` (`inside`: open at its start).

    As the reader parses: a quote opens a value only at the start of a field, "" inside a quoted
    value is a quote, and a lone quote closes it."""
    if b'"' not in line:
        return inside
    i, at_start = 0, not inside
    while i < len(line):
        if inside:
            j = line.find(b'"', i)
            if j < 0:
                return True
            if line[j + 1:j + 2] == b'"':
                i = j + 2
                continue
            inside, at_start, i = False, False, j + 1
        elif at_start and line[i:i + 1] == b'"':
            inside, i = True, i + 1
        else:
            j = line.find(delimiter, i)
            if j < 0:
                return False
            i, at_start = j + 1, True
    return inside


def _long_line_error(path: Path, delimiter: bytes, where: str) -> DataError | None:
    """The real cause of pyarrow's "Empty CSV file or block" or "straddling object": a line longer
    than the blocks it parses at a time (a header of a million columns, a huge value). The header
    must fit in one block; another line fails when it spans two block boundaries."""
    number, length, fields, header, longest = 1, 0, 1, 0, {}  # longest: blocks exceeded -> first line

    def ended() -> None:
        for blocks in (1, 2):
            if length > blocks * CSV_BLOCK_BYTES:
                longest.setdefault(blocks, (number, length))

    with open_regular(path) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            for k, piece in enumerate(chunk.split(b"\n")):
                if k:  # a line ended before this piece
                    ended()
                    header = header or length
                    number, length = number + 1, 0
                length += len(piece)
                if number == 1:
                    fields += piece.count(delimiter)
    ended()
    header = header or length
    limit = f"{CSV_BLOCK_BYTES // 2**20} MB"
    if header > CSV_BLOCK_BYTES:
        return DataError(
            f"catalogue {path}: its header line has {fields:,} columns ({header / 1e6:.1f} MB), too many for the "
            f"CSV reader, which needs the header to fit in {limit}",
            where=where,
            hint="keep only the columns the project needs, or save the catalogue as Parquet or FITS",
        )
    if not longest:
        return None
    line, length = longest.get(2) or longest[1]
    return DataError(
        f"catalogue {path}: line {line} is {length / 1e6:.1f} MB long, more than the CSV reader can take "
        f"(it reads {limit} at a time)",
        where=where,
        hint="check that line for a quote that does not close or a value that is not a catalogue entry; "
             "a catalogue with very long values is better saved as Parquet or FITS",
    )


# From this size of catalogue file on, freed memory is handed back at once (mlproj.memory).
LARGE_CATALOGUE_BYTES = 32 * 2**20


def load_dataset(loaded: LoadedProject) -> Dataset:
    """Read the catalogue of a project and build labels and features."""
    project = loaded.project
    data = project.data
    from mlproj.data.catalogue import read_catalogue

    # Several files, a glob, data.test_path below the catalogue; hashed as read, before any change.
    catalogue = read_catalogue(loaded, needed_columns(loaded))
    path, table = catalogue.source, catalogue.table
    n_read = len(table)
    _require_columns(table.columns, [data.label], loaded.where("data", "label"), "label column")
    replaced, bounds, derived = prepare_table(table, loaded)
    dropped: dict[str, int] = {}
    warnings: list[str] = []

    if project.objective.task == "classification":
        labelled = ~_missing_cells(table[data.label])
        y, matched, classes, used_columns = _labels_from_classes(table, loaded, labelled)
        keep = _rows_to_keep({"with a missing label": labelled, "matching no class": matched}, dropped)
        positive = classes.index(project.positive)
    else:
        target = _numeric_column(table, data.label, loaded.where("data", "label"), role="regression target")
        keep = _rows_to_keep({"with a missing or infinite target": np.isfinite(target)}, dropped)
        y, classes, positive, used_columns = target, None, None, set()

    historical = _historical(table, loaded, classes if project.objective.task == "classification" else None)
    groups = _aux_column(table, data.groups, loaded.where("data", "groups"), "group column") if data.groups else None
    order = (_numeric_column(table, data.order, loaded.where("data", "order"), role="order column")
             if data.order else None)
    names = _feature_names(table, loaded, derived, used_columns)
    for role, column in (("group", data.groups), ("order", data.order)):
        if column in names:
            names.remove(column)
            warnings.append(f"the {role} column '{column}' is not used as a feature")
    leaks = sorted(used_columns & set(names))
    if leaks:
        warnings.append(
            f"feature(s) {', '.join(leaks)} also appear in the class definitions: the model can "
            "learn the operational definition itself instead of the astrophysics"
        )
    names += [indicator(c) for c in data.limits if c in names and indicator(c) not in names]
    unindicated = [c for c in data.limits if c not in names]
    if unindicated:
        warnings.append(unindicated_limits_warning(unindicated, data.derived))
    X = feature_matrix(table, names, loaded, derived)
    errors = error_matrix(table, loaded, names)
    ranges = _limit_ranges(bounds, names, n_read)
    recompute = derived_features(table, loaded, names, errors, ranges)
    table_columns = [str(c) for c in table.columns]
    del table  # the matrices hold what is needed; a large catalogue should not stay in memory twice
    return_freed_memory()
    if not keep.all():  # indexing copies: only when some rows really are dropped
        X = np.ascontiguousarray(X[keep])
        errors = np.ascontiguousarray(errors[keep]) if errors is not None else None
        ranges = np.ascontiguousarray(ranges[:, keep]) if ranges is not None else None
        recompute = recompute.rows(keep) if recompute is not None else None
        y = y[keep]
        historical = historical[keep] if historical is not None else None
        groups = groups[keep] if groups is not None else None
        order = order[keep] if order is not None else None
    if order is not None and np.isnan(order).any():
        raise DataError(f"the order column '{data.order}' has {int(np.isnan(order).sum())} missing values",
                        where=loaded.where("data", "order"), hint="every object needs a time to be ordered")
    if len(y) == 0:
        raise DataError("no rows are left after applying the class definitions", where=loaded.where("classes"),
                        hint="check the expressions against the values in the label column")
    _check_derived_values(X, names, loaded)
    if project.objective.task == "regression":
        _check_target_domains(y, np.flatnonzero(keep), loaded)
    _check_allowed_strong_features(names, table_columns, loaded)
    if not isinstance(data.features, list):
        suspicious = _suspicious_default_features(X, names, derived + [indicator(c) for c in data.limits])
        if suspicious:
            warnings.append(suspicious_features_warning(suspicious, data.features))
    infinite = [n for n, bad in zip(names, np.isinf(X).any(axis=0)) if bad]
    if infinite:
        raise DataError(f"feature(s) {', '.join(infinite)} contain infinite values",
                        where=loaded.where("data", "features"),
                        hint="replace them with a finite value or mark them missing (empty cell) in the catalogue")
    if replaced:
        listed = ", ".join(f"{column} ({count})" for column, count in sorted(replaced.items()))
        warnings.append(f"sentinel values turned into missing values: {listed}")
    implausible = implausible_errors(X, errors, names, data.errors)
    if implausible:
        warnings.append(implausible)
    colours = catalogue_colours(X, names, [f for f in data.errors if f not in data.derived])
    if colours:
        shown = ", ".join(f"{c} = {a} - {b}" for c, a, b in colours)
        warnings.append(f"{shown}: {'a colour' if len(colours) == 1 else 'colours'} read from the catalogue, the "
                        "difference of two features with errors: augmented copies and input draws scatter "
                        f"{'it' if len(colours) == 1 else 'each'} apart from its magnitudes. Define "
                        f"{'it' if len(colours) == 1 else 'them'} under data.derived (e.g. "
                        f"{_derived_example(*colours[0])}) instead of the catalogue column, so that every copy "
                        "recomputes the colour from its drawn magnitudes")
    overridden = [name for name in (recompute.recomputed if recompute is not None else []) if name in data.errors]
    if overridden and data.augment:
        warnings.append(f"data.errors of the derived feature(s) {', '.join(overridden)} are not used for augmented "
                        "copies: they are recomputed from their drawn inputs, which carry the errors")
    dataset = Dataset(X=X, y=y, feature_names=names, classes=classes, positive=positive, source=path,
                      file_hash=catalogue.file_hash, n_rows_read=n_read, dropped=dropped, warnings=warnings,
                      historical=historical, groups=groups, order=order, errors=errors, limit_ranges=ranges,
                      recompute=recompute, sentinels=dict(sorted(replaced.items())),
                      data_hash=catalogue.content_hash, files=catalogue.files, patterns=catalogue.patterns,
                      units={n: catalogue.units[n] for n in names if n in catalogue.units},
                      test_rows=None if catalogue.test is None else np.flatnonzero(catalogue.test[keep]))
    _check_classes(dataset, loaded)
    return dataset


# Target values a message quotes by data row; the count says how many there are in all.
SHOWN_ROWS = 5


def _check_target_domains(y: np.ndarray, rows: np.ndarray, loaded: LoadedProject) -> None:
    """Every target lies where the project's metrics are defined (DESIGN §6): a relative σ_NMAD of
    a redshift of −1 (a common code for "unknown") divides by 1 + z = 0. Refused before any fit,
    with the rows and the sentinel that would declare the code. `rows`: each target's position
    in the file (0 = the first data row)."""
    from mlproj.science import metrics

    project = loaded.project
    label = project.data.label
    specs = [project.metric.primary, *project.metric.secondary]
    outside = np.zeros(len(y), dtype=bool)
    offended: dict[str, tuple[str, str]] = {}
    for spec in specs:
        domain = metrics.target_domain(spec.name, metrics.validate_params(spec.name, spec.params, "regression"))
        if domain is None:
            continue
        bad = ~domain.contains(y)
        if bad.any():
            outside |= bad
            offended.setdefault(spec.name, (domain.condition, domain.reason))
    if not outside.any():
        return
    bad_rows = rows[outside] + 1
    values, counts = np.unique(y[outside], return_counts=True)
    top = np.argsort(-counts, kind="stable")[:3]  # the commonest: a code for "unknown" if there is one
    common = values[top]
    quoted = ", ".join(f"{values[i]:g} ({counts[i]} {'row' if counts[i] == 1 else 'rows'})" for i in top)
    more_values = f" and {len(values) - 3} other values" if len(values) > 3 else ""
    shown = ", ".join(str(r) for r in bad_rows[:SHOWN_ROWS])
    more = f" and {len(bad_rows) - SHOWN_ROWS} more" if len(bad_rows) > SHOWN_ROWS else ""
    conditions = sorted({condition.replace("y", label) for condition, _ in offended.values()})
    reasons = sorted({reason for _, reason in offended.values()})
    n = int(outside.sum())
    codes = ", ".join(f"{v:g}" for v in common)
    raise DataError(
        f"{n} {'target' if n == 1 else 'targets'} in '{label}' {'is' if n == 1 else 'are'} outside the values "
        f"{' and '.join(offended)} {'is' if len(offended) == 1 else 'are'} defined for ({' and '.join(conditions)} is "
        f"needed: {'; '.join(reasons)}): {quoted}{more_values}, in data {'row' if n == 1 else 'rows'} {shown}{more} "
        "(data row 1 is the first row below the header)",
        where=loaded.where("data", "label"),
        hint=f"if {codes} {'means' if len(common) == 1 else 'mean'} 'unknown', declare {'it' if len(common) == 1 else 'them'} "
             f"as a sentinel, data.sentinels: {{{label}: [{codes}]}}, and those rows are dropped as rows without a "
             "target; if they are real values, choose metrics defined for them (e.g. relative: false, or rmse)",
    )


def _check_allowed_strong_features(names: list[str], columns: list[str], loaded: LoadedProject) -> None:
    """Settings that name features (data.allowed_strong_features acknowledges them, report.corner_features
    plots them): a name that is none is a typo or stale."""
    from mlproj.project.schema import did_you_mean

    listed = {("data", "allowed_strong_features"): (loaded.project.data.allowed_strong_features,
                                                    "list features the verdict may accept as strong physics"),
              ("report", "corner_features"): (loaded.project.report.corner_features or [],
                                              "list the features the corner plot should show")}
    for (section, key), (values, purpose) in listed.items():
        for i, name in enumerate(values):
            if name in names:
                continue
            why = ("a column of the catalogue, but not one of the features" if name in columns
                   else "not a feature")
            raise ConfigError(
                f"{section}.{key} lists '{name}', which is {why}{did_you_mean(name, names)}",
                where=loaded.where(section, key, i),
                hint=f"{purpose}; the features are: " + ", ".join(names[:15]) + (" …" if len(names) > 15 else ""),
            )


# Words that end in "id" and name no identifier (the last part of a column name is looked at).
_NOT_IDS = {"valid", "invalid", "fluid", "mid", "rapid", "solid", "hybrid", "grid", "acid", "lid", "bid", "aid",
            "said", "paid", "squid", "vivid", "lucid", "humid", "liquid", "pyramid", "orchid", "rigid", "timid",
            "arid", "avid", "candid", "splendid", "torrid", "tepid", "turbid", "placid", "morbid", "pallid"}


def _name_parts(name: str) -> list[str]:
    """`specObjID` -> [spec, obj, id]; `psfMagErr_u` -> [psf, mag, err, u]; `source_id` -> [source, id]."""
    import re

    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return [part.lower() for part in re.split(r"[^A-Za-z0-9]+", spaced) if part]


def identifier_like(name: str, values: np.ndarray) -> bool:
    """An object identifier rather than a property: a name part that is or ends in "id" (objid,
    specObjID, source_id, but not valid or ellipsoid), or integers that are all different."""
    for part in _name_parts(name):
        if part in ("id", "ids") or (part.endswith("id") and not part.endswith("oid") and part not in _NOT_IDS):
            return True
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return (len(values) >= MIN_ID_ROWS and bool(np.all(values == np.round(values)))
            and len(np.unique(values)) == len(values))


MIN_ID_ROWS = 20  # fewer rows: distinct integers may be a small count, not a key


def error_like(name: str, columns: list[str]) -> bool:
    """A measurement error rather than a property: a name part that begins or ends with "err"
    (u_err, psfMagErr_u, magerr), `e_<column>` or `<column>_error`, or `e` + another column (eu, eg)."""
    lower = name.lower()
    if lower.startswith("e_") or lower.endswith("_error"):
        return True
    if any(part.startswith("err") or part.endswith("err") for part in _name_parts(name)):
        return True
    return len(name) > 1 and name[0] in "eE" and name[1:] in columns


def _suspicious_default_features(X: np.ndarray, names: list[str], derived: list[str]) -> dict[str, list[str]]:
    """Identifier-like and error-like columns among the features taken by default, by kind."""
    found: dict[str, list[str]] = {"identifier": [], "error": []}
    for j, name in enumerate(names):
        if name in derived:
            continue
        if identifier_like(name, X[:, j]):
            found["identifier"].append(name)
        elif error_like(name, names):
            found["error"].append(name)
    return {kind: listed for kind, listed in found.items() if listed}


def suspicious_features_warning(found: dict[str, list[str]], features) -> str:
    """One warning for the identifier and error columns used as features because none were listed."""
    parts = []
    ids, errs = found.get("identifier", []), found.get("error", [])
    if ids:
        parts.append(f"{', '.join(ids)} {'looks like an object identifier' if len(ids) == 1 else 'look like object identifiers'} "
                     "(a name with 'id', or integers that are all different): the model can memorise objects by "
                     f"{'it' if len(ids) == 1 else 'them'}")
    if errs:
        parts.append(f"{', '.join(errs)} {'looks like a measurement error' if len(errs) == 1 else 'look like measurement errors'}: "
                     "an error describes the measurement (depth, conditions), not the object, and differs between surveys")
    one = len(ids) + len(errs) == 1
    suggested = list(getattr(features, "exclude", None) or []) + ids + errs
    return ("; ".join(parts) + f". {'It is' if one else 'They are'} used as {'a feature' if one else 'features'} "
            f"because data.features does not list any; exclude {'it' if one else 'them'} with data.features: "
            f"{{exclude: [{', '.join(suggested)}]}}, or list the features"
            + (" (measurement errors belong in data.errors)" if errs else ""))


def _rows_to_keep(valid: dict[str, np.ndarray], dropped: dict[str, int]) -> np.ndarray:
    """The rows valid for every reason, in order; `dropped` counts each reason's rows that no
    earlier reason already dropped, so the counts add up to the rows lost."""
    keep = np.ones(len(next(iter(valid.values()))), dtype=bool)
    for reason, ok in valid.items():
        lost = int((keep & ~ok).sum())
        if lost:
            dropped[reason] = lost
        keep &= ok
    return keep


def _check_derived_values(X: np.ndarray, names: list[str], loaded: LoadedProject) -> None:
    """A derived feature without a single finite value is a mistake in its expression (log10 of
    negative numbers, a division by zero), not missing data to impute."""
    derived = loaded.project.data.derived
    for j, name in enumerate(names):
        values = X[:, j]
        if name not in derived or np.isfinite(values).any():
            continue
        what = "NaN" if np.isnan(values).all() else "infinite" if np.isinf(values).all() else "NaN or infinite"
        raise ConfigError(
            f"derived feature '{name}' = \"{derived[name]}\" is {what} for every row ({len(values)} rows)",
            where=loaded.where("data", "derived", name),
            hint="check the expression against the values of its columns: log10, log and sqrt need positive "
                 "numbers, a division needs a non-zero divisor, and a column empty in every row gives NaN",
        )


def prepare_table(table, loaded: LoadedProject) -> tuple[dict[str, int], dict[str, tuple], list[str]]:
    """What training and prediction do alike to a raw catalogue, in this order: sentinels become
    missing values, non-detections become bounds with an indicator, derived features are added."""
    replaced = _apply_sentinels(table, loaded)
    bounds = _apply_limits(table, loaded)
    derived = _add_derived(table, loaded)
    return replaced, bounds, derived


def feature_matrix(table, names: list[str], loaded: LoadedProject, derived: list[str]) -> np.ndarray:
    X = np.empty((len(table), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        where = loaded.where("data", "derived", name) if name in derived else loaded.where("data", "features")
        _require_columns(table.columns, [name], where, "feature")
        X[:, j] = _numeric_column(table, name, where, role="feature")
    return X


@dataclass(frozen=True)
class DerivedFeatures:
    """The derived features as a pure function of drawn measurements (DESIGN §3: augmentation
    recomputes derived features per copy; mlproj.science.augmentation.Recompute).

    Called with rows of the feature matrix whose measured values were drawn from their errors
    (and their row indices, None for every row), it evaluates again, in the order written, each
    derived feature that depends on a drawn value, from the drawn values, and writes those that
    are features into the rows. It holds expression texts and arrays only, so it pickles for
    process and dask workers; what it computes is fixed by data.derived, data.errors and
    data.limits, which every task key holds.
    """

    features: tuple[str, ...]  # the columns of the feature matrix
    steps: tuple[tuple[str, str, str], ...]  # (derived name, expression, where it is written)
    fixed: dict[str, np.ndarray] = field(default_factory=dict)  # other inputs they read, per row (never drawn)

    @property
    def recomputed(self) -> list[str]:
        return [name for name, _, _ in self.steps]

    def rows(self, keep: np.ndarray) -> DerivedFeatures:
        """The same recomputation for the rows kept (`keep`: a mask or indices into the rows)."""
        return DerivedFeatures(self.features, self.steps, {k: v[keep] for k, v in self.fixed.items()})

    def __call__(self, drawn: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        columns: dict[str, np.ndarray] = {name: drawn[:, j] for j, name in enumerate(self.features)}
        for name, values in self.fixed.items():
            columns[name] = values if rows is None else values[rows]
        position = {name: j for j, name in enumerate(self.features)}
        for name, text, context in self.steps:
            values = np.asarray(_compiled(text, context).evaluate(columns), dtype=np.float64)
            columns[name] = values
            if name in position:
                drawn[:, position[name]] = values
        return drawn


@lru_cache(maxsize=256)
def _compiled(text: str, context: str):
    return parse_expression(text, context=context)


def derived_features(table, loaded: LoadedProject, names: list[str], errors: np.ndarray | None,
                     ranges: np.ndarray | None = None) -> DerivedFeatures | None:
    """How the derived features among `names` follow from drawn values, or None if none does.

    Drawn are the features with an error somewhere (`errors`, as error_matrix gives them) or a
    non-detection range (`ranges`); a derived feature is recomputed when it reads a drawn or a
    recomputed value. `table`: the prepared catalogue (prepare_table), for the inputs that are
    not features.
    """
    derived = loaded.project.data.derived
    if not derived or (errors is None and ranges is None):
        return None
    drawn = set()
    for j, name in enumerate(names):
        if ((errors is not None and (errors[:, j] > 0).any())
                or (ranges is not None and (~np.isnan(ranges[0, :, j])).any())):
            drawn.add(name)
    steps, inputs = [], set()
    for name, text in derived.items():
        where = loaded.where("data", "derived", name)
        expression = _compiled(text, where)
        if expression.names & drawn:
            steps.append((name, text, where))
            inputs |= expression.names
            drawn.add(name)
    if not steps:
        return None
    fixed = {}
    for column in sorted(inputs - set(names) - {name for name, _, _ in steps}):
        values = table[column]
        numeric = values.dtype.kind in "biuf"
        fixed[column] = values.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else values.to_numpy(dtype=object)
    return DerivedFeatures(tuple(names), tuple(steps), fixed)


# Rows compared when looking for catalogue colours, and the rounding a catalogue's colour may carry.
COLOUR_SAMPLE = 1000
COLOUR_TOLERANCE = 1e-5
MAX_COLOUR_INPUTS = 30  # features with errors: beyond, the search (cubic in them) is skipped


def catalogue_colours(X: np.ndarray, names: list[str], measured: list[str]) -> list[tuple[str, str, str]]:
    """(c, a, b) for every feature c among `measured` (features with errors) that equals a - b of
    two other measured features wherever it has a value: a colour taken from the catalogue, which
    a draw would scatter apart from its magnitudes. Searched on a sample of rows, confirmed on all."""
    columns = [names.index(f) for f in measured if f in names]
    if not 3 <= len(columns) <= MAX_COLOUR_INPUTS or len(X) == 0:
        return []
    sample = X[np.linspace(0, len(X) - 1, min(len(X), COLOUR_SAMPLE)).astype(int)]
    triples = []
    for c in columns:
        known = sample[:, c][np.isfinite(sample[:, c])]
        if known.size and np.ptp(known) > 0:
            triples += [(c, a, b) for a in columns for b in columns
                        if len({a, b, c}) == 3 and _is_difference(sample, c, a, b)]

    def named_after(triple) -> bool:  # "u-g" names u and g: the colour, not a magnitude (g = u - (u-g))
        c, a, b = (names[i] for i in triple)
        return a in c and b in c

    found, inputs = [], set()
    for c, a, b in sorted(triples, key=lambda t: (not named_after(t), t)):
        if c in inputs or a in {f[0] for f in found} or b in {f[0] for f in found} or c in {f[0] for f in found}:
            continue  # one of three dependent columns is the colour; the other two its magnitudes
        if _is_difference(X, c, a, b):
            found.append((c, a, b))
            inputs |= {a, b}
    return [(names[c], names[a], names[b]) for c, a, b in sorted(found)]


def _is_difference(X: np.ndarray, c: int, a: int, b: int) -> bool:
    """Column c is column a minus column b, to a catalogue's rounding, wherever c has a value."""
    known = np.isfinite(X[:, c])
    target = X[known, c]
    with np.errstate(invalid="ignore"):
        close = np.abs(target - (X[known, a] - X[known, b])) <= COLOUR_TOLERANCE * np.maximum(1.0, np.abs(target))
    return bool(close.all())


def _derived_example(colour: str, a: str, b: str) -> str:
    def quoted(name: str) -> str:
        return name if name.isidentifier() else f"`{name}`"

    new = "".join(ch if ch.isalnum() else "_" for ch in colour)
    new = new if new != colour else f"{colour}_derived"
    return f"{new}: \"{quoted(a)} - {quoted(b)}\""


# The span of a feature's values an error is compared with: without the most extreme 2%.
ROBUST_RANGE = (1.0, 99.0)  # percentiles


def implausible_errors(X: np.ndarray, errors: np.ndarray | None, names: list[str],
                       columns: dict[str, str]) -> str | None:
    """One warning naming the error columns with values larger than the whole range of their
    feature (the span between its 1st and 99th percentiles) and how many rows, or None.

    An error of 14,749 mag on a magnitude, or one wider than the spread of every object's value,
    scatters a drawn copy across the whole catalogue: a code or a unit mistake, not a 1σ error.
    """
    if errors is None:
        return None
    found = []
    for feature, column in columns.items():
        if feature not in names:
            continue
        j = names.index(feature)
        values = X[:, j][np.isfinite(X[:, j])]
        if values.size < 2:
            continue
        low, high = np.percentile(values, ROBUST_RANGE)
        span = float(high - low)
        bad = errors[:, j] > span
        if span <= 0 or not bad.any():
            continue
        n = int(bad.sum())
        found.append(f"{column}: {n} row{'s' if n > 1 else ''}, up to {float(errors[bad, j].max()):g} "
                     f"(the range of {feature} is {span:.3g})")
    if not found:
        return None
    return ("implausible measurement errors, larger than the whole range of their feature's values (its 1st to 99th "
            f"percentile): {'; '.join(found)}. Augmented copies and input draws would scatter these objects across "
            "the catalogue; check the error columns (a code such as 9999 belongs under data.sentinels)")


def indicator(column: str) -> str:
    return f"{column}_nondetection"


def unindicated_limits_warning(columns: list[str], derived: dict[str, str]) -> str:
    """Why a limit gets no indicator feature: its column is not a feature, so the model would not
    see which objects are non-detections (only derived features that read the bound do)."""
    readers = sorted(name for name, text in derived.items() if set(columns) & set(parse_expression(text, context='').names))
    shown = ", ".join(f"'{c}'" for c in columns)
    plural = len(columns) > 1
    used = (f" Its bound still enters the derived feature(s) {', '.join(readers)}." if readers else
            " The limit changes no feature.")
    return (f"data.limits: {shown} {'are' if plural else 'is'} not among the features, so "
            f"{'no indicator is' if not plural else 'no indicators are'} added "
            f"({', '.join(indicator(c) for c in columns)}): the models cannot tell non-detections from "
            f"detections.{used} Add {shown} to data.features to give the models the indicator, or remove "
            f"the limit{'s' if plural else ''}")


def _apply_limits(table, loaded: LoadedProject) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Non-detections (paper §5.1, case 2): the value becomes the bound, and an indicator says so.

    A non-detection is information, not a missing value: the true magnitude is fainter than the
    limit (a flux is below it). Returns, per column, (mask, low, high) of the allowed range.
    """
    bounds = {}
    for column, spec in loaded.project.data.limits.items():
        where = loaded.where("data", "limits", column)
        _require_columns(table.columns, [column], where, "limited column")
        values = _numeric_column(table, column, where, role="limited column")
        if spec.flag is not None and _names_a_column(spec.flag, table):
            _require_columns(table.columns, [spec.flag], where, "non-detection flag column")
            flag = table[spec.flag]
            mask = flag.fillna(False).astype(bool).to_numpy() if flag.dtype == bool or flag.dtype == object \
                else np.nan_to_num(flag.to_numpy(dtype=np.float64, na_value=np.nan)) != 0
        elif spec.flag is not None:
            mask = _limit_flag(table, spec.flag, column, loaded)
        else:
            mask = np.isclose(values, spec.sentinel)
        name = "bound" if spec.bound is not None else "limit"
        if isinstance(spec.value, str) and _names_a_column(spec.value, table):
            _require_columns(table.columns, [spec.value], where, "limit column")
            limit = _numeric_column(table, spec.value, where, role="limit column")
        elif isinstance(spec.value, str):
            limit = _limit_bound(table, spec.value, column, name, loaded)
        elif spec.value is not None:
            limit = np.full(len(table), float(spec.value))
        else:
            limit = values
        bound = np.where(mask, limit, values)
        if np.isnan(bound[mask]).any():
            raise DataError(f"{int(np.isnan(bound[mask]).sum())} non-detections in '{column}' have no limit value",
                            where=where, hint=f"give {name}: (the survey depth, a column or an expression "
                                              "such as \"2 * e\" that is finite for every non-detection)")
        if spec.kind == "magnitude":
            low, high = bound, bound + spec.span
        else:
            low, high = np.maximum(bound - spec.span, 0.0), bound
        table[column] = bound
        table[indicator(column)] = mask.astype(np.float64)
        bounds[column] = (mask, low, high)
    return bounds


# What a limit's flag and bound may be when they are no column name (paper §5.1: a non-detection
# is often a condition on the measurement, such as a flux below twice its error).
_LIMIT_EXPRESSIONS = ("a column name, or an expression on the catalogue's columns with numbers, arithmetic, "
                      "comparisons, and/or/not and the functions log10, log, exp, sqrt, abs, isnan, where, clip")


def _names_a_column(text: str, table) -> bool:
    """A flag or bound that is a plain identifier names a column (and a missing one is reported
    as a missing column); anything else is an expression."""
    return text in table.columns or text.isidentifier()


def _limit_expression(table, text: str, column: str, key: str, loaded: LoadedProject) -> np.ndarray:
    where = loaded.where("data", "limits", column, key)
    try:
        return _evaluate(parse_expression(text, context=where), table)
    except ConfigError as exc:  # the parser's message, with what a limit's field may hold
        raise ConfigError(exc.message, where=exc.where or where,
                          hint=exc.hint or f"a {key} is {_LIMIT_EXPRESSIONS}") from None


def _limit_flag(table, text: str, column: str, loaded: LoadedProject) -> np.ndarray:
    values = _limit_expression(table, text, column, "flag", loaded)
    if values.dtype.kind != "b":
        raise ConfigError(f"data.limits.{column}.flag = \"{text}\" is no condition: it gives "
                          f"{'numbers' if values.dtype.kind in 'iuf' else 'text'}, not true or false per object",
                          where=loaded.where("data", "limits", column, "flag"),
                          hint=f"write a comparison that is true for a non-detection, e.g. \"{column} < 2 * "
                               f"{column}_err\"; a flag is {_LIMIT_EXPRESSIONS}")
    return values.astype(bool)


def _limit_bound(table, text: str, column: str, key: str, loaded: LoadedProject) -> np.ndarray:
    values = _limit_expression(table, text, column, key, loaded)
    if values.dtype.kind not in "iuf":
        raise ConfigError(f"data.limits.{column}.{key} = \"{text}\" is not a number per object",
                          where=loaded.where("data", "limits", column, key),
                          hint=f"a {key} is a number, {_LIMIT_EXPRESSIONS} giving the limit's value, e.g. "
                               "\"2 * e\"")
    return values.astype(np.float64)


def _limit_ranges(bounds: dict, names: list[str], n: int) -> np.ndarray | None:
    if not bounds:
        return None
    ranges = np.full((2, n, len(names)), np.nan)
    for column, (mask, low, high) in bounds.items():
        if column in names:
            j = names.index(column)
            ranges[0, mask, j] = low[mask]
            ranges[1, mask, j] = high[mask]
    return ranges


def error_matrix(table, loaded: LoadedProject, names: list[str]) -> np.ndarray | None:
    """1σ measurement errors per feature (paper §5.1, case 1); missing errors mean no noise."""
    spec = loaded.project.data.errors
    if not spec:
        return None
    where = loaded.where("data", "errors")
    unknown = [f for f in spec if f not in names]
    if unknown:
        raise ConfigError(f"data.errors names {', '.join(repr(u) for u in unknown)}, which is not a feature",
                          where=where, hint=f"the features are: {', '.join(names)}")
    _require_columns(table.columns, list(spec.values()), where, "error column")
    errors = np.zeros((len(table), len(names)))
    for feature, column in spec.items():
        values = _numeric_column(table, column, where, role="error column")
        if (values < 0).any():
            raise DataError(f"error column '{column}' has negative values", where=where,
                            hint="errors are 1σ standard deviations; check the column or its sentinels")
        errors[:, names.index(feature)] = np.nan_to_num(values, nan=0.0, posinf=0.0)
    return errors


def _apply_sentinels(table, loaded: LoadedProject) -> dict[str, int]:
    """Replace "no measurement" codes by NaN before labels, derived features or fits see them.

    A sentinel such as -99.99 is not a measurement; left as a number it would become the most
    extreme value of its feature (paper §5.1).
    """
    import pandas as pd

    sentinels = loaded.project.data.sentinels
    if not sentinels:
        return {}
    if "*" not in sentinels:
        # The label's own codes (z_spec: [-1]) need no label column: a catalogue to predict for has none.
        _require_columns(table.columns, [c for c in sentinels if c != loaded.project.data.label],
                         loaded.where("data", "sentinels"), "sentinel column")
    replaced = {}
    for column in table.columns:
        codes = list(sentinels.get("*", [])) + list(sentinels.get(column, []))
        if not codes or not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
            continue
        values = table[column].to_numpy(dtype=np.float64, na_value=np.nan)
        hit = np.isin(values, np.asarray(codes, dtype=np.float64))
        # Catalogues print sentinels with limited precision (-99.99 may be read as -99.990000001).
        for code in codes:
            hit |= np.isclose(values, code, rtol=0, atol=1e-9 * max(1.0, abs(code)))
        if hit.any():
            table[column] = np.where(hit, np.nan, values)
            replaced[column] = int(hit.sum())
    return replaced


def _aux_column(table, name: str, where: str, role: str) -> np.ndarray:
    _require_columns(table.columns, [name], where, role)
    column = table[name]
    if column.isna().any():
        raise DataError(f"the {role} '{name}' has {int(column.isna().sum())} missing values", where=where,
                        hint="give every object a group id")
    return column.astype(str).to_numpy()


def _historical(table, loaded: LoadedProject, classes: list[str] | None) -> np.ndarray | None:
    """Predictions of the classical method, read from the catalogue (paper §4: the historical baseline)."""
    spec = loaded.project.historical
    if spec is None:
        return None
    where = loaded.where("historical", "column")
    _require_columns(table.columns, [spec.column], where, "historical column")
    if spec.kind == "label":
        # The classical labels use the raw vocabulary of the label column, so the operational
        # class definitions read them exactly as they read the truth.
        relabelled = table.assign(**{loaded.project.data.label: table[spec.column]})
        proba = np.zeros((len(table), len(classes)))
        for j, (name, text) in enumerate(loaded.project.classes.items()):
            proba[:, j] = parse_expression(text, context=loaded.where("classes", name)).evaluate(relabelled)
        # An object the classical method left unclassified counts as the prior guess: all classes equal.
        unassigned = proba.sum(axis=1) == 0
        proba[unassigned] = 1.0 / len(classes)
        return proba / proba.sum(axis=1, keepdims=True)
    values = _numeric_column(table, spec.column, where, role="historical column")
    if spec.kind == "value":
        return values
    score = -values if spec.direction == "lower" else values
    # Objects without a classical score are never selected by it.
    floor = np.nanmin(score) - 1.0 if np.isfinite(score).any() else 0.0
    return np.where(np.isfinite(score), score, floor)


def _check_classes(dataset: Dataset, loaded: LoadedProject) -> None:
    """The class definitions leave at least two classes (whether the splits can hold them is
    plan.splits.check_split_feasible's question)."""
    if dataset.classes is None:
        return
    present = [c for c, n in dataset.class_counts().items() if n > 0]
    if len(present) < 2:
        only = present[0] if present else "none"
        raise DataError(
            f"the label has only one class after applying the definitions ({only}: {dataset.n_rows} rows); "
            "a classifier needs at least two",
            where=loaded.where("classes"),
            hint="check the class expressions and the values in the label column",
        )


def _require_columns(columns, wanted, where: str, role: str) -> None:
    available = [str(c) for c in columns]
    for name in wanted:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=3)
            shown = ", ".join(available[:15]) + (" …" if len(available) > 15 else "")
            raise DataError(
                f"{role} '{name}' is not in the catalogue",
                where=where,
                hint=(f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
                + f"The catalogue has: {shown}",
            )


def _add_derived(table, loaded: LoadedProject) -> list[str]:
    """Evaluate derived features in the order written, so later ones may use earlier ones."""
    derived = loaded.project.data.derived
    for name, text in derived.items():
        where = loaded.where("data", "derived", name)
        if name in table.columns:
            raise ConfigError(f"derived feature '{name}' has the name of an existing column", where=where,
                              hint="choose another name")
        values = _evaluate(parse_expression(text, context=where), table)
        if values.dtype.kind not in "biuf":
            raise ConfigError(f"derived feature '{name}' = \"{text}\" is not numeric", where=where,
                              hint="derived features must be arithmetic on numeric columns")
        table[name] = values.astype(np.float64)
    return list(derived)


def _labels_from_classes(table, loaded: LoadedProject, labelled: np.ndarray):
    """Class indices from the operational definitions, applied to the labelled rows only: a row
    without a label must not fall into a class defined by exclusion, such as class != 'GALAXY'."""
    project = loaded.project
    classes = list(project.classes)
    matches = np.zeros((len(table), len(classes)), dtype=bool)
    used_columns: set[str] = set()
    for j, (name, text) in enumerate(project.classes.items()):
        where = loaded.where("classes", name)
        expression = parse_expression(text, context=where)
        values = _evaluate(expression, table)
        if values.dtype != bool:
            raise ConfigError(
                f"class definition \"{text}\" is not a condition (it gives {values.dtype} values)",
                where=where,
                hint="write a comparison, e.g. \"class == 'GALAXY'\" or \"z > 0.1\"",
            )
        matches[:, j] = values & labelled
        used_columns |= set(expression.names)
    overlap = matches.sum(axis=1) > 1
    if overlap.any():
        rows = np.flatnonzero(overlap)
        pairs = {tuple(np.array(classes)[matches[r]]) for r in rows[:50]}
        described = "; ".join(" and ".join(p) for p in sorted(pairs)[:3])
        raise DataError(
            f"{len(rows)} rows match two classes ({described}), e.g. data row {rows[0] + 1}",
            where=loaded.where("classes"),
            hint="make the operational definitions mutually exclusive",
        )
    keep = matches.any(axis=1)
    for j, name in enumerate(classes):
        if not matches[:, j].any():
            raise DataError(f"class '{name}' matches no rows", where=loaded.where("classes", name),
                            hint="check the expression against the values in the label column")
    y = np.where(keep, matches.argmax(axis=1), -1).astype(np.int64)
    return y, keep, classes, used_columns


def _evaluate(expression, table) -> np.ndarray:
    """Evaluate an expression on the raw table. When it fails on a number column with a few cells
    of text (read as text because of them), the cells are the problem, not the expression."""
    try:
        return expression.evaluate(table)
    except ConfigError:
        for name in sorted(expression.names & set(table.columns)):
            numbers, unreadable = _cells_as_numbers(table[name])
            if unreadable.any() and np.isfinite(numbers).any():
                raise _unreadable_cells_error(f"column '{name}' (used in \"{expression.text}\")",
                                              table[name], unreadable, expression.context) from None
        raise


def _numeric_column(table, name: str, where: str, role: str) -> np.ndarray:
    import pandas as pd

    column = table[name]
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers, unreadable = _cells_as_numbers(column)
    if unreadable.any():
        raise _unreadable_cells_error(f"{role} '{name}'", column, unreadable, where)
    return numbers  # text cells that all read as numbers or are empty, e.g. an all-empty column


def _missing_cells(column) -> np.ndarray:
    """Cells without a value: NaN, masked, empty or blank, or a word pyarrow reads as missing in a
    number column (NA, null, …), which stays text in a text column."""
    import pandas as pd
    from pyarrow import csv as arrow_csv

    if pd.api.types.is_numeric_dtype(column):
        return column.isna().to_numpy()
    words = set(arrow_csv.ConvertOptions().null_values)
    try:
        values = column.dropna().unique()
    except TypeError:  # cells that hold arrays (a Parquet list column) are never blank
        return column.isna().to_numpy()
    # Checked once per distinct value: a label column has millions of cells but a handful of values.
    blanks = [cell for cell in values if isinstance(cell, str) and cell.strip() in words]
    return (column.isna() | column.isin(blanks)).to_numpy()


def _cells_as_numbers(column) -> tuple[np.ndarray, np.ndarray]:
    """A text column read as numbers (missing cells NaN), and where a cell holds something else."""
    import pandas as pd

    missing = _missing_cells(column)
    numbers = pd.to_numeric(column.where(~missing), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers, np.isnan(numbers) & ~missing


# Bad cells quoted in a message; the count says how many there are in all.
SHOWN_CELLS = 5


def _unreadable_cells_error(subject: str, column, unreadable: np.ndarray, where: str) -> DataError:
    """Name the cells that are not numbers, by data row (1 = the first row below the header)."""
    rows = np.flatnonzero(unreadable)
    if len(rows) == (~_missing_cells(column)).sum():  # not one number: a text column
        sample = ", ".join(_cell(c) for c in column.iloc[rows[:100]].astype(str).unique()[:3])
        return DataError(f"{subject} is not numeric: none of its cells is a number (values such as {sample})",
                         where=where, hint="remove it from the features, or define classes from it instead")
    examples = ", ".join(f"{_cell(column.iloc[r])} in data row {r + 1}" for r in rows[:SHOWN_CELLS])
    more = f" and {len(rows) - SHOWN_CELLS} more" if len(rows) > SHOWN_CELLS else ""
    cells = "1 cell that is not a number" if len(rows) == 1 else f"{len(rows)} cells that are not numbers"
    return DataError(
        f"{subject} has {cells}: {examples}{more} (data row 1 is the first row below the header)",
        where=where,
        hint="correct these cells in the catalogue, or empty them: empty cells (and NA, null) are read as "
             "missing values; data.sentinels can only declare numeric codes such as -99.99",
    )


def _cell(value) -> str:
    text = str(value)
    return repr(text if len(text) <= 20 else text[:17] + "...")


def _feature_names(table, loaded: LoadedProject, derived: list[str], used_columns: set[str]) -> list[str]:
    import pandas as pd

    data = loaded.project.data
    where = loaded.where("data", "features")
    if isinstance(data.features, list):
        _require_columns(table.columns, data.features, where, "feature")
        names = list(data.features) + [d for d in derived if d not in data.features]
        if data.label in names:
            raise ConfigError(f"the label column '{data.label}' is listed as a feature", where=where,
                              hint="remove it from data.features: the model would see the answer")
        return names
    exclude = set(data.features.exclude) if data.features is not None else set()
    if exclude:
        _require_columns(table.columns, sorted(exclude), where, "excluded column")
    exclude |= {data.label} | used_columns | set(data.errors.values()) | {
        spec.flag for spec in data.limits.values() if spec.flag}
    names = [c for c in table.columns
             if c not in exclude and (c in derived or pd.api.types.is_numeric_dtype(table[c]))]
    if not names:
        raise DataError("no numeric feature columns are left", where=where,
                        hint="list the features explicitly under data.features")
    return names
