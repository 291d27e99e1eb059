"""The command line: parse options, call the library, render, choose the exit code.

Exit codes (DESIGN §4): 0 success / verdict pass; 1 verdict fail; 3 verdict undetermined;
2 invalid input, stale or missing run (a message on stderr, never a traceback unless --debug);
130 interrupted (finished fits are kept in the cache); 70 internal error (a bug in mlproj).
Heavy libraries are imported inside the commands so that `--help` and `schema` start fast.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from mlproj.errors import MlprojError, printable, storage_error

app = typer.Typer(
    name="mlproj",
    help="Declarative machine-learning projects with baselines, honest error bars and a finish line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
class _SafeConsole(Console):
    """Every string printed is made printable first (mlproj.errors.printable): a project name,
    column header or class name with control characters (ESC sequences) must not reach the
    terminal raw. Rich's own styling is added after, so colours still work."""

    def render_str(self, text: str, **kwargs):
        return super().render_str(printable(text), **kwargs)


class _StdoutConsole(_SafeConsole):
    def on_broken_pipe(self) -> None:
        """`mlproj verdict | head -1`: the reader has what it wanted. Go quiet and keep the
        command's exit code (rich exits 1, which would read as a FAIL verdict)."""
        _stdout_closed()
        self.quiet = True


def _stdout_closed() -> None:
    # Python's advice for SIGPIPE: point stdout at devnull, so that later writes and the final
    # flush do not raise again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# Markup and emoji codes only where a message asks for them (markup=True, user text escaped):
# a project's expressions and names ("class in [galaxy]", "file.yaml:100:") are shown as written.
out = _StdoutConsole(highlight=False, markup=False, emoji=False)
err = _SafeConsole(stderr=True, highlight=False, markup=False, emoji=False)
EXIT_INVALID, EXIT_INTERRUPTED, EXIT_INTERNAL = 2, 130, 70
_state = {"debug": False}

ConfigOption = typer.Option(Path("mlproj.yaml"), "--config", "-c", help="Project file.", show_default=True)


def _guard(command):
    """Turn user errors into one paragraph and exit 2; interruptions into 130; bugs into 70."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MlprojError as exc:
            if _state["debug"]:
                raise
            _print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted: every finished fit is kept in the cache; `mlproj run` resumes from it.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `mlproj schema | head`: JSON written to a reader that has stopped
            _stdout_closed()
            raise typer.Exit(0) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence against tracebacks
            if _state["debug"]:
                raise
            # A file-system fault at a path (full disk, read-only folder, a file or folder in the
            # way, a symlink loop, a name too long) that no closer handler named: the user can fix
            # it, so it is no bug. Anything else is.
            storage = storage_error(exc) if isinstance(exc, OSError) and exc.filename is not None else None
            if storage is not None:
                _print_error(storage)
                raise typer.Exit(storage.exit_code) from None
            err.print(f"internal error in mlproj ({type(exc).__name__}: {exc}). This is a bug; rerun with "
                      "--debug for the traceback and report it.", markup=False)
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _print_error(exc: MlprojError) -> None:
    err.print(f"[bold red]error:[/] {escape(exc.render())}", soft_wrap=True, markup=True, highlight=False)


def _print_version(asked: bool) -> None:
    if asked:
        from mlproj import __version__

        out.print(f"mlproj {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
         version: bool = typer.Option(False, "--version", help="Print mlproj's version and exit.",
                                      is_eager=True, callback=_print_version)) -> None:
    _state["debug"] = debug


@app.command()
@_guard
def init(
    directory: Path = typer.Argument(Path("."), help="Folder to create the project in."),
    template: str = typer.Option("classification", "--template", "-t", help="classification or regression."),
    force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty."),
) -> None:
    """Write a runnable project: commented mlproj.yaml, simulated catalogue, README."""
    from mlproj.workflow.scaffold import scaffold

    written = scaffold(directory, template, force=force)
    out.print(f"Created a {template} project in {directory}:")
    for path in written:
        out.print(f"  {path.relative_to(directory.resolve()) if path.is_relative_to(directory.resolve()) else path}")
    where = "" if directory.resolve() == Path.cwd() else f"cd {directory} && "
    out.print(f"\nNext: {where}mlproj run && mlproj verdict")


@app.command()
@_guard
def check(config: Path = ConfigOption) -> None:
    """Validate the project file and the catalogue; print what would be run."""
    from mlproj.project.config import load_project
    from mlproj.workflow import run as runner

    prepared = runner.prepare(load_project(config))
    _print_data(prepared)
    _print_plan(prepared)
    for warning in prepared.dataset.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    out.print("[green]OK[/]: the project file and the catalogue are valid.", markup=True)


@app.command()
@_guard
def plan(
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print the full plan as JSON."),
) -> None:
    """Print the run plan: models × folds × repeats, and how many fits are cached."""
    from mlproj.project.config import load_project
    from mlproj.workflow import run as runner

    prepared = runner.prepare(load_project(config))
    if as_json:
        sys.stdout.write(json.dumps(prepared.plan.to_dict(), indent=2) + "\n")
        return
    _print_plan(prepared)


@app.command()
@_guard
def run(
    config: Path = ConfigOption,
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Parallel fits (default: execution.n_jobs)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="local or dask (default: execution.backend)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask scheduler address (tcp://HOST:PORT)."),
    rerun: bool = typer.Option(False, "--rerun", help="Analyse again and write a new run folder even if the "
                               "latest run is up to date (unchanged fits still come from the cache)."),
) -> None:
    """Execute the plan (resuming from the cache), then judge it against the finish line."""
    from mlproj.workflow import review

    _check_run_options(config, jobs, backend, scheduler)  # also when the latest run is up to date
    current = None if rerun else review.current_run(config)
    if current is not None:
        out.print(f"Up to date: {_relative(current.run_dir)} matches the project file and the catalogue; "
                  "nothing to fit (--rerun writes a new run folder from the cache).")
        _print_verdict(current.verdict, current.summary)
        return

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from mlproj.project.config import load_project
    from mlproj.workflow import run as runner

    loaded = load_project(config)
    prepared = runner.prepare(loaded)
    n_jobs = jobs if jobs is not None else loaded.project.execution.n_jobs
    backend = backend or loaded.project.execution.backend
    address = scheduler or loaded.project.execution.scheduler
    if backend == "dask" and not address:
        raise MlprojError("the dask backend needs a scheduler address",
                          hint="pass --scheduler tcp://HOST:PORT or set execution.scheduler")
    for warning in prepared.dataset.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    for reason, count in prepared.dataset.dropped.items():
        out.print(f"Dropped {_count(count, 'row')} {reason}.")
    total = len(prepared.plan.tasks)
    cached = runner.cached_count(prepared)
    plan = prepared.plan
    out.print(f"{prepared.loaded.project.name}: {_count(len(plan.models), 'model')} × {_count(plan.repeats, 'repeat')} × "
              f"{_count(plan.folds, 'fold')} = {total} fits ({cached} cached) on {prepared.dataset.n_rows} objects")
    columns = (TextColumn("fitting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
    from mlproj.store.lock import project_lock

    with project_lock(loaded.root), Progress(*columns, console=err, transient=True,
                                             disable=not err.is_terminal) as progress:
        bar = progress.add_task("fits", total=total)
        outcome = runner.run_project(prepared, n_jobs=n_jobs, on_task=lambda _: progress.advance(bar),
                                     scheduler=address if backend == "dask" else None)
    if outcome.mismatched:
        one = outcome.mismatched == 1
        err.print(f"[yellow]warning:[/] {outcome.mismatched} cache {'entry' if one else 'entries'} did not match "
                  f"{'its' if one else 'their'} key (swapped or copied by hand, or written by "
                  "an mlproj that did not store keys) and "
                  f"{'was' if one else 'were'} refitted.", markup=True)
    if outcome.fitted == 0 and outcome.failed == 0:
        out.print(f"Nothing to fit: all {outcome.cached} results came from the cache.")
    else:
        out.print(f"Fitted {outcome.fitted}, reused {outcome.cached} from the cache"
                  + (f", {outcome.failed} failed" if outcome.failed else "") + ".")
    _print_verdict(outcome.verdict, outcome.summary, already_shown=set(prepared.dataset.warnings))
    out.print(f"Run written to {_relative(outcome.run_dir)}; `mlproj verdict` shows it again (exit code = verdict).")


def _check_run_options(config: Path, jobs: int | None, backend: str | None, scheduler: str | None) -> None:
    """The command line's own mistakes (the project file's values are checked when it loads)."""
    if jobs == 0:
        raise MlprojError("-j must be a positive number of workers, or negative to count back from all cores "
                          "(-1: all, -2: all but one)")
    if backend is not None and backend not in ("local", "dask"):
        raise MlprojError(f"unknown backend '{backend}'", hint="use --backend local or --backend dask")
    if scheduler:
        if backend is None:  # the project file decides; read only in this case, to keep `run` quick
            from mlproj.project.config import load_project

            backend = load_project(config).project.execution.backend
        if backend != "dask":
            raise MlprojError(f"--scheduler {scheduler} is for the dask backend, but this run uses '{backend}'",
                              hint="add --backend dask (or set execution.backend: dask), or leave out --scheduler")


@app.command()
@_guard
def verdict(
    run_dir: Optional[str] = typer.Argument(None, metavar="[RUN]", help="Run folder (default: the latest run)."),
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print verdict.json."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write a JUnit XML report (one case per criterion)."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Show the run's verdict even if the project file "
                                     "or catalogue changed since (it judged the old ones)."),
) -> None:
    """A run's verdict on the finish line: exit 0 pass, 1 fail, 3 undetermined, 2 invalid or stale."""
    from mlproj.workflow import review

    result = review.rejudge(run_dir, config, allow_stale=allow_stale)
    if junit is not None:
        # XML 1.0 forbids most control characters even as references: they are replaced first.
        review.write_junit(junit, _printable_tree(result.verdict), printable(result.project_name))
    for reason in result.stale:  # on stderr also with --json: CI logs show it, the JSON stays clean
        err.print(f"[yellow]warning:[/] stale run: {escape(reason)} (--allow-stale: this is the old run's verdict)",
                  markup=True)
    try:
        if as_json:
            sys.stdout.write(json.dumps(result.verdict, indent=2) + "\n")
            sys.stdout.flush()
        else:
            _print_verdict(result.verdict, result.summary)
            out.print(f"Run: {_relative(result.run_dir)}")
    except BrokenPipeError:  # the JSON is written directly, not through the console
        _stdout_closed()
    raise typer.Exit(result.verdict["exit_code"])


@app.command()
@_guard
def predict(
    run_dir: Optional[str] = typer.Argument(None, metavar="[RUN]", help="Run folder (default: the latest run)."),
    data: Path = typer.Option(..., "--data", help="Catalogue to predict (any format a project reads: .csv, .parquet, .fits, ...)."),
    out_file: Path = typer.Option(..., "--out", help="Where to write the predictions (.csv, .parquet)."),
    model: Optional[str] = typer.Option(None, "--model", help="A saved model other than the selected one."),
    draws: int = typer.Option(0, "--draws", min=0, max=1000,
                              help="Average over this many draws of the inputs from their errors (data.errors)."),
    config: Path = ConfigOption,
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Predict even if config or data changed."),
) -> None:
    """Apply the run's selected model to a new catalogue; keeps every input column."""
    from mlproj.workflow import review
    from mlproj.workflow.predict import predict as apply_model

    result = review.rejudge(run_dir, config, allow_stale=allow_stale)
    done = apply_model(result.run_dir, data, out_file, model=model, draws=draws)
    out.print(f"Wrote {done.rows} predictions of {done.model} to {out_file} (new columns: {', '.join(done.columns)}).")


@app.command()
@_guard
def estimators(
    task: str = typer.Option("classification", "--task", help="classification or regression."),
) -> None:
    """List the scikit-learn estimators a project file may name (the allow-list)."""
    from mlproj.plan.estimators import allowed_estimators, simplicity_of

    if task not in ("classification", "regression"):
        raise MlprojError(f"unknown task '{task}'", hint="use --task classification or --task regression")
    ranks = {0: "dummy", 1: "linear", 2: "trees", 3: "other"}
    if task == "classification":
        out.print(f"{'estimator':40s} {'rank':8s} probabilities (rate and ranking metrics need them)")
    for name, cls in sorted(allowed_estimators(task).items()):
        line = f"{name:40s} {ranks[simplicity_of(cls)]:8s}"
        if task == "classification":
            line += " " + _gives_probabilities(cls)
        out.print(line.rstrip(), soft_wrap=True)  # one line per estimator, for grep


def _gives_probabilities(cls: type) -> str:
    import warnings

    with warnings.catch_warnings():  # deprecated estimators warn when built
        warnings.simplefilter("ignore")
        if hasattr(cls(), "predict_proba"):
            return "yes"
    # Defined on the class but not on a default instance: some parameters turn it on
    # (SVC probability: true, SGDClassifier loss: log_loss).
    return "with some params (see its documentation)" if hasattr(cls, "predict_proba") else "no"


cache_app = typer.Typer(help="Manage the fit cache in .mlproj/cache/.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("prune")
@_guard
def cache_prune(
    config: Path = ConfigOption,
    everything: bool = typer.Option(False, "--all", help="Delete every cached fit, not only stale ones."),
) -> None:
    """Delete cached fits that the current plan no longer uses (or all with --all)."""
    from mlproj.execute.tasks import Cache
    from mlproj.project.config import load_project
    from mlproj.workflow import run as runner

    loaded = load_project(config)
    keep: set[str] = set()
    if not everything:
        plan = runner.prepare(loaded).plan
        keep = {t.key for t in plan.tasks} | {t.key for t in plan.final_tasks.values()}
    files, freed = Cache(loaded.root / runner.CACHE_DIR).prune(keep)
    out.print(f"Removed {files} cache files ({freed / 1e6:.1f} MB); kept the fits of the current plan."
              if not everything else f"Removed {files} cache files ({freed / 1e6:.1f} MB).")


@app.command()
@_guard
def schema() -> None:
    """Print the JSON Schema of the project file (for editors and validation)."""
    from mlproj.project.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


# ---------------------------------------------------------------------------------------- rendering


def _printable_tree(value):
    """A copy of JSON-like data with every string made printable (mlproj.errors.printable)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): _printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_tree(v) for v in value]
    return value


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_data(prepared) -> None:
    dataset = prepared.dataset
    out.print(f"Catalogue {dataset.source.name}: {dataset.n_rows_read} rows read, {dataset.n_rows} used, "
              f"{len(dataset.feature_names)} features ({', '.join(dataset.feature_names)})")
    for reason, count in dataset.dropped.items():
        out.print(f"  dropped {_count(count, 'row')} {reason}")
    if dataset.classes:
        counts = ", ".join(f"{k} {v}" for k, v in dataset.class_counts().items())
        out.print(f"  classes: {counts}; positive: {prepared.loaded.project.positive}")


def _print_plan(prepared) -> None:
    from rich.table import Table

    from mlproj.workflow import run as runner

    plan = prepared.plan
    out.print(f"[bold]Run plan[/]: {_count(plan.repeats, 'repeat')} × {_count(plan.folds, 'fold')} on "
              f"{len(plan.development)} objects; "
              f"{len(plan.test)} held out for the test", markup=True)
    table = Table()
    for column in ("model", "role", "estimator", "fits"):
        table.add_column(column, justify="right" if column == "fits" else "left")
    rows = runner.describe_plan(plan)
    for row in rows:
        table.add_row(row["model"], row["role"], row["estimator"], str(row["fits"]))
    out.print(table)
    cached = runner.cached_count(prepared)
    out.print(f"Total: {len(plan.tasks)} cross-validation fits ({cached} cached) + 1 final fit of the selected model "
              f"on the development set, scored once on the test set. Primary metric: "
              + ", ".join(f"{c.primary.label} ({c.name})" if len(prepared.cases) > 1 else c.primary.label
                          for c in prepared.cases) + ".")


def _print_verdict(verdict: dict, summary: dict, already_shown: set[str] = frozenset()) -> None:
    from mlproj.analyse.failures import failed_fit_warnings

    failures = failed_fit_warnings(summary)
    for failure in failures:  # before the tables: a failed candidate must not go unnoticed under a PASS
        out.print(f"[bold red]failed fits:[/] {escape(failure)}", markup=True)
    already_shown = set(already_shown) | set(failures)
    several = len(summary["cases"]) > 1
    judged = {case["selection"]: case for case in verdict.get("selections", [])}
    for case in summary["cases"]:
        _print_case(case, judged.get(case["name"], {}), summary, verdict, several)
    _print_criteria(verdict)
    power = verdict.get("power")
    if power and power.get("power") is not None:
        best = power.get("best_operating_point") or {}
        out.print(f"Power analysis ({power['model']}): {power['detail']}"
                  + (f" The most powerful operating point on the ROC (TPR {best['tpr']:.3f}, FPR {best['fpr']:.4f}) "
                     f"gives power {best['power']:.2f}." if best else ""))
    calibration = (verdict.get("diagnostics") or {}).get("calibration")
    if calibration and calibration.get("ece") is not None:
        out.print(f"Calibration of {verdict['diagnostics']['model']} (out of fold, {len(calibration['counts'])} "
                  f"quantile bins): expected calibration error {calibration['ece']:.3f}.")
    prior = (verdict.get("diagnostics") or {}).get("toward_prior")
    if prior and prior.get("overall_slope") is not None:
        out.print(f"Prediction vs truth of {verdict['diagnostics']['model']} (out of fold): slope "
                  f"{prior['overall_slope']:.3f} (1 = no pull toward the training sample's bulk).")
    for warning in verdict.get("warnings", []):
        if warning not in already_shown:
            out.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    status = verdict["status"]
    colour = _COLOURS[status]
    reason = verdict.get("reason") or ""
    selected = verdict.get("selected_model")
    chosen = f"selected {escape(selected)}" if selected else "no model selected"
    out.print(f"[bold {colour}]VERDICT: {status.upper()}[/] — {chosen}: {escape(reason)}.", markup=True)


_COLOURS = {"pass": "green", "fail": "red", "undetermined": "yellow"}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _print_case(case: dict, judged: dict, summary: dict, verdict: dict, several: bool) -> None:
    from rich.table import Table

    from mlproj.science.numbers import significant, significant_interval

    primary = case["primary"]["label"]
    title = f"Selection [bold]{escape(case['name'])}[/]: " if several else ""
    out.print(f"\n{title}[bold]cross-validated {escape(primary)}[/] over {summary['repeats']} × {summary['folds']} folds: "
              f"mean ± corrected SE, {summary['confidence'] * 100:g}% interval", markup=True)
    table = Table()
    # Rates come with the counts behind them (paper §2.3), pooled over the folds of the first
    # repeat, which hold every development object once.
    counted = any(model.get("rates", {}).get(primary) for model in case["models"].values())
    for column in ("model", "role", primary, "interval") + (("out-of-fold counts, first repeat [95% Wilson]",)
                                                           if counted else ()) + ("fit s",):
        table.add_column(column)
    roles = {m["name"]: m for m in summary["models"]}
    selected = judged.get("selected_model")
    for name, model in case["models"].items():
        s = model["metrics"][primary]
        mean, se = _nan(s["mean"]), _nan(s["se"])
        interval = significant_interval(_nan(s["interval"][0]), _nan(s["interval"][1]), se)
        fit = roles[name]["fit_seconds"]
        failed = roles[name].get("failed_tasks", 0) == roles[name].get("n_tasks", -1)  # every fit failed
        counts = (_counts(model.get("rates", {}).get(primary), case["primary"]["name"]),) if counted else ()
        table.add_row(name + (" ◀ selected" if name == selected else ""), roles[name]["role"],
                      "—" if math.isnan(mean) else significant(mean, se), interval, *counts,
                      "failed" if failed else "—" if fit is None else f"{fit:.2f}")
    out.print(table)
    comparisons = [c for c in verdict.get("comparisons", []) if c.get("selection", case["name"]) == case["name"]]
    if comparisons:
        out.print(f"Paired comparisons of {escape(comparisons[0]['b'])} with each baseline (improvement: how much "
                  f"better b scores than a, whichever way the metric improves; margin ±{case['margin']:g}):")
        comp = Table()
        for column in ("b vs a", "improvement", f"{summary['confidence'] * 100:g}% interval", "P(better)", "P(equiv.)",
                       "P(worse)", "decision"):
            comp.add_column(column)
        for c in comparisons:
            low, high = (_nan(v) for v in c["interval"])
            spread = (high - low) / 3.29 if c["interval"][0] is not None else float("nan")
            comp.add_row(f"{c['b']} vs {c['a']}", significant(_nan(c["difference"]), spread).split(" ±")[0],
                         significant_interval(low, high, spread), _fmt(c["p_better"], 3),
                         _fmt(c["p_equivalent"], 3), _fmt(c["p_worse"], 3), c["decision"])
        out.print(comp)
    if selected:
        out.print(f"Selected [bold]{escape(selected)}[/]: {escape(judged.get('reason', ''))}.", markup=True)
        others = [label for label in case["metrics"] if label != primary]
        if others:
            chosen = case["models"][selected]["metrics"]
            shown = [f"{label} = {significant(_nan(chosen[label]['mean']), _nan(chosen[label]['se']))}"
                     for label in others]
            out.print(f"Secondary metrics of {selected}: " + "; ".join(shown) + ".")
    _print_uncertainty(judged.get("uncertainty"), case, summary)
    test = ((summary.get("test") or {}).get("models") or {}).get(selected)
    if test:
        result = test["cases"].get(case["name"], {})
        value = result.get("metrics", {}).get(primary)
        rate = result.get("rates", {}).get(primary)
        out.print(f"Held-out test ({test['n_test']} objects, used once): {selected} {primary} = {_fmt(value, 3)}"
                  + (f"; {_counts(rate, case['primary']['name'])}" if rate else ""))
        note = (rate or {}).get("resolution")
        if note:
            out.print(f"[yellow]note:[/] {escape(note)}", markup=True)


def _print_uncertainty(judged: dict | None, case: dict, summary: dict) -> None:
    """CRPS, NLL and coverage of each σ(x) method, cross-validated and on the test set."""
    if not judged:
        return
    from rich.table import Table

    model = judged["model"]
    test = ((summary.get("test") or {}).get("models") or {}).get(model, {}).get("cases", {}).get(case["name"], {})
    out.print(f"Predicted uncertainties of {model} (Gaussian σ; coverage should match 0.683 and 0.954):")
    table = Table()
    for column in ("σ method", "CRPS", "NLL", "68% coverage", "95% coverage", "PIT KS", "test CRPS",
                   "test 68% / 95%"):
        table.add_column(column)
    stored = case["models"][model]["uncertainty"]
    held = test.get("uncertainty", {})
    from mlproj.science.numbers import significant

    for method, values in judged["methods"].items():
        cells = [significant(_nan(values[n]), _nan(stored[f"{n}[{method}]"]["se"]))
                 for n in ("crps", "nll", "coverage_68", "coverage_95", "pit_ks")]
        table.add_row(method, *cells, _fmt(held.get(f"crps[{method}]"), 3),
                      f"{_fmt(held.get(f'coverage_68[{method}]'), 3)} / {_fmt(held.get(f'coverage_95[{method}]'), 3)}")
    out.print(table)
    for c in judged["comparisons"]:
        out.print(f"CRPS of {c['b']} vs {c['a']}: {c['decision']} (P(better) = {_fmt(c['p_better'], 3)}).")
    for method, by_level in (test.get("coverage") or {}).items():
        parts = [f"{float(level) * 100:.0f}%: {c['inside']}/{c['n']} inside [{_fmt(c['wilson'][0], 3)}, "
                 f"{_fmt(c['wilson'][1], 3)}]" for level, c in by_level.items()]
        out.print(f"Test-set coverage ({method} σ, 95% Wilson): " + "; ".join(parts) + ".")


def _counts(rate: dict | None, metric: str) -> str:
    if not rate:
        return ""
    low, high = rate["wilson"]
    wilson = f" [{_fmt(low, 3)}, {_fmt(high, 3)}]" if low is not None else ""
    tp, fp, n_pos, n_neg = rate["true_positives"], rate["false_positives"], rate["n_positive"], rate["n_negative"]
    if metric == "fpr_at_fnr":
        return f"FP {fp}/{n_neg}{wilson} · TP {tp}/{n_pos}"
    if metric == "purity":
        return f"TP {tp}/{tp + fp} selected{wilson}"
    return f"TP {tp}/{n_pos}{wilson} · FP {fp}/{n_neg}"


def _print_criteria(verdict: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    out.print("\n[bold]Criteria[/]", markup=True)
    crit = Table()
    crit.add_column("criterion")
    crit.add_column("status")
    crit.add_column("detail", overflow="fold")
    for c in verdict["criteria"]:
        status = Text(c["status"], style=_COLOURS[c["status"]]) + ("" if c.get("required", True) else " (optional)")
        crit.add_row(c["name"], status, c["detail"])
    out.print(crit)


def _nan(value):
    return float("nan") if value is None else value


def _fmt(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _terminate(signum, frame):  # noqa: ARG001 - signal handler signature
    # SIGTERM (a scheduler's time limit, `kill`) ends a run like Ctrl-C: finished fits stay cached.
    raise KeyboardInterrupt


# Spins of an idle OpenMP thread before it sleeps (libgomp's default: 300,000).
OPENMP_SPINS = "1000"


def limit_openmp_spinning(environ=os.environ) -> None:
    """Let idle OpenMP threads sleep soon, unless the user chose a wait policy.

    Gradient boosting opens thousands of short OpenMP regions, and libgomp's threads spin for
    300,000 turns at each one's end. When two runs (or any other work) share the cores, a
    spinning thread holds the core its partner needs: two regression-template runs side by side
    took over 120 s instead of 10 s, in two of four tries. With 1,000 turns they took 10-11 s in
    every try, and one run alone took as long as with the default (5.2-5.6 s; `-j 2` on the
    20,000-row benchmark 5.9-6.2 s against 5.8-6.0 s). OMP_WAIT_POLICY=passive would sleep at
    once, but costs 20 % on small fits. libgomp reads it when it loads, before any fit: hence here.
    """
    if "GOMP_SPINCOUNT" not in environ and "OMP_WAIT_POLICY" not in environ:
        environ["GOMP_SPINCOUNT"] = OPENMP_SPINS


def entry() -> None:
    import signal

    limit_openmp_spinning()
    signal.signal(signal.SIGTERM, _terminate)
    # Rich wraps at 80 columns when output is piped; CI logs read better a little wider.
    for console in (out, err):
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = 120
    try:
        app()
    finally:
        # The process ends here. Its last garbage collection, over every object of scikit-learn,
        # scipy and pandas, took 0.25 s of each run, to free memory that the system takes back
        # anyway; files are closed and atexit handlers run before it, as before.
        gc.freeze()


if __name__ == "__main__":
    entry()
