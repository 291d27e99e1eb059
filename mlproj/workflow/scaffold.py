"""`mlproj init`: write a runnable project (commented mlproj.yaml, simulated catalogue, README).

The project file comes from `mlproj/templates/<template>.yaml`; the catalogue is simulated by
`mlproj.data.simulate` so the project runs anywhere without downloads. File names are fixed
constants, never taken from user input, and each file is written to a temporary name in the
target folder and moved into place, so an interrupted `init` never leaves a half-written file.
"""

from __future__ import annotations

import difflib
import json
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlproj.errors import ConfigError
from mlproj.project.loading import DEFAULT_CONFIG
from mlproj.store.files import write_text_atomic
from mlproj.workflow.schema import SCHEMA_FILE, project_schema

TEMPLATES = ("classification", "regression")
CATALOGUE = "catalogue.csv"
README = "README.md"
GITIGNORE = ".gitignore"
GITIGNORE_TEXT = "# mlproj run folders and the task cache (re-created by `mlproj run`)\nruns/\n.mlproj/\n"
DEFAULT_ROWS = 3000
MIN_ROWS = 100
MAX_ROWS = 2_000_000


@dataclass(frozen=True)
class _Template:
    simulate: str  # function name in mlproj.data.simulate
    description: str  # of the simulated catalogue, for the README
    expectation: str  # what `mlproj run` / `mlproj verdict` should show on the demo
    verdicts: tuple[tuple[float, str], ...]  # (threshold, status) pairs the expectation states; tested


_DETAILS = {
    "classification": _Template(
        simulate="star_galaxy_catalogue",
        description=(
            "a simulated catalogue of {rows} objects: stars, galaxies and quasars (45% / 48% / 7%) "
            "with ugriz magnitudes (`u` … `z`), their errors (`u_err` … `z_err`), a morphology measure "
            "`psf_minus_model` (PSF minus model magnitude: about 0 for point sources, positive for "
            "extended ones) and the true `class`. Photometric noise grows toward the faint end "
            "(r ≈ 16–22.5), where compact galaxies look like stars."
        ),
        expectation=(
            "At 1% contamination the uninformative dummy keeps about 1% of the galaxies, logistic "
            "regression about 83%, the random forest about 95% and gradient boosting about 96%. With "
            "the finish line at 0.9 (margin 0.01) the verdict is **pass** (exit code 0): gradient "
            "boosting is selected, because logistic regression is clearly worse and the forest is not "
            "shown to be equivalent. The finish line is judged twice, on the cross-validated 90% "
            "interval (about [0.944, 0.974]) and on the held-out test set (280 of 288 test galaxies, "
            "Wilson interval about [0.951, 0.984]); it is reached when both intervals stay above the "
            "threshold minus the margin, so a threshold of 0.95 still passes. At 0.96 the verdict "
            "becomes **undetermined** (exit code 3): the cross-validated interval straddles 0.96 − "
            "0.01; with about 250 contaminants per validation fold, 1% is 2–3 objects, and the "
            "interval is too wide to decide. At 0.99 the whole cross-validated interval lies below "
            "0.99 − 0.01: an honest **fail** (exit code 1)."
        ),
        verdicts=((0.9, "pass"), (0.95, "pass"), (0.96, "undetermined"), (0.99, "fail")),
    ),
    "regression": _Template(
        simulate="photoz_catalogue",
        description=(
            "a simulated galaxy sample of {rows} objects, magnitude-limited at a true r < 21 (the "
            "measured r scatters a little beyond), with spectroscopic redshifts `z_spec` (0.01–0.6), ugriz magnitudes (`u` … `z`) whose colours follow a "
            "redshifted 4000 Å break, and their errors (`u_err` … `z_err`). About 1.5% of the "
            "redshifts are catastrophic outliers (a misidentified emission line)."
        ),
        expectation=(
            "The dummy (the median redshift for everyone) has sigma_NMAD ≈ 0.085, linear regression "
            "about 0.041, the random forest and gradient boosting about 0.034, with about 2% "
            "catastrophic outliers. With the finish line at 0.035 (margin 0.002) the verdict is "
            "**pass** (exit code 0) and gradient boosting is selected: it is clearly better than "
            "linear regression, and the forest is not shown to be equivalent. Both its "
            "cross-validated 90% interval (about [0.0312, 0.0360]) and its held-out test interval (a "
            "bootstrap over the 600 test galaxies, about [0.029, 0.035]) stay below 0.035 + 0.002. At "
            "a threshold of 0.033 the cross-validated interval straddles 0.033 + 0.002 "
            "(**undetermined**, exit code 3: the run says how much larger the sample would have to be "
            "to decide); at 0.028 the whole cross-validated interval lies above 0.028 + 0.002 "
            "(**fail**, exit code 1)."
        ),
        verdicts=((0.035, "pass"), (0.033, "undetermined"), (0.028, "fail")),
    ),
}


def scaffold(target: Path, template: str = "classification", *, force: bool = False,
             rows: int | None = None) -> list[Path]:
    """Write mlproj.yaml, mlproj.schema.json, catalogue.csv, README.md and .gitignore into `target`;
    return their paths.

    `target` is created (with parents) if missing. An existing non-empty folder is refused
    unless `force`, in which case only these five files are overwritten.
    """
    if template not in TEMPLATES:
        close = difflib.get_close_matches(str(template), TEMPLATES, n=1, cutoff=0.5)
        raise ConfigError(
            f"unknown template '{template}'",
            hint=(f"did you mean '{close[0]}'? " if close else "") + f"The templates are: {', '.join(TEMPLATES)}",
        )
    if rows is None:
        rows = DEFAULT_ROWS
    if isinstance(rows, bool) or not isinstance(rows, int) or not MIN_ROWS <= rows <= MAX_ROWS:
        raise ConfigError(f"the number of simulated rows must be an integer between {MIN_ROWS} and "
                          f"{MAX_ROWS:,}, got {rows!r}")
    target = Path(target).expanduser().resolve()
    _prepare_folder(target, force)

    details = _DETAILS[template]
    project_text = _read_template(f"{template}.yaml")
    readme_text = string.Template(_read_template("README.md.tmpl")).substitute(
        template=template,
        catalogue=details.description.format(rows=f"{rows:,}"),
        expectation=details.expectation,
    )
    catalogue_text = _simulate(details.simulate, rows)

    written = []
    schema_text = json.dumps(project_schema(), indent=2) + "\n"
    for name, text in ((DEFAULT_CONFIG, project_text), (SCHEMA_FILE, schema_text), (CATALOGUE, catalogue_text),
                       (README, readme_text), (GITIGNORE, _gitignore(target / GITIGNORE))):
        path = target / name
        _write_atomic(path, text)
        written.append(path)
    return written


def _prepare_folder(target: Path, force: bool) -> None:
    try:
        exists, is_dir = target.exists(), target.is_dir()
        occupied = is_dir and next(target.iterdir(), None) is not None
    except OSError as exc:
        raise ConfigError(f"cannot look at {target}: {exc.strerror or exc}",
                          hint="check the permissions of the folder and its parents") from None
    if exists and not is_dir:
        raise ConfigError(f"{target} exists and is a file, not a folder",
                          hint="choose a new folder name for the project")
    if is_dir:
        if occupied and not force:
            raise ConfigError(
                f"{target} is not empty",
                hint=f"choose a new or empty folder, or pass --force to write {DEFAULT_CONFIG}, "
                f"{CATALOGUE} and {README} into it (other files are left alone, these three are "
                f"overwritten, and an existing {GITIGNORE} is extended)",
            )
        return
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {target}: {exc.strerror or exc}",
                          hint="check that the parent folder exists and is writable") from None


def _gitignore(path: Path) -> str:
    """Our ignore lines; an existing .gitignore (with --force) keeps its lines and gains ours."""
    try:
        existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        existing = ""
    if not existing:
        return GITIGNORE_TEXT
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_TEXT.splitlines() if line.strip() not in present]
    if all(line.startswith("#") for line in missing):
        return existing
    return existing + ("" if existing.endswith("\n") else "\n") + "\n".join(missing) + "\n"


def _read_template(name: str) -> str:
    return (resources.files("mlproj") / "templates" / name).read_text(encoding="utf-8")


def _simulate(function: str, rows: int) -> str:
    from mlproj.data import simulate

    frame = getattr(simulate, function)(rows, seed=0)
    return frame.to_csv(index=False, lineterminator="\n")


def _write_atomic(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}",
                          hint="check that the folder is writable and the disk is not full") from None
