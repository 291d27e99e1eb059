"""The command line: parse options, call the library, render, choose the exit code.

Exit codes (DESIGN §4): 0 success / verdict pass; 1 verdict fail; 3 verdict undetermined;
2 invalid input, stale or missing run (a message on stderr, never a traceback unless --debug);
130 interrupted (finished fits are kept in the cache); 70 internal error (a bug in mlproj).
Heavy libraries are imported inside the commands so that `--help` and `verdict` start fast.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import warnings
from pathlib import Path

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
RunArgument = typer.Argument(None, metavar="[RUN]", help="Run folder, its name under runs/<project>/, or its hash "
                             "(a unique prefix will do; default: this project file's latest run).")


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


def _print_warnings_and_notes(dataset) -> None:
    for warning in dataset.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    for note in dataset.notes:
        err.print(f"[cyan]note:[/] {escape(note)}", markup=True)


@app.command()
@_guard
def check(config: Path = ConfigOption) -> None:
    """Validate the project file and the catalogue; print what would be run."""
    from mlproj.project.loading import load_project
    from mlproj.report import console
    from mlproj.workflow import run as runner

    prepared = runner.prepare(load_project(config))
    runner.project_runs(prepared.loaded)  # a `name:` another project file of the folder owns
    console.print_data(out, runner.describe_data(prepared), prepared.loaded.project.positive)
    _print_plan(prepared)
    _print_warnings_and_notes(prepared.dataset)
    out.print("[green]OK[/]: the project file and the catalogue are valid.", markup=True)


@app.command()
@_guard
def plan(
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print the full plan as JSON."),
) -> None:
    """Print the run plan: models × folds × repeats, and how many fits are cached."""
    from mlproj.project.loading import load_project
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
    jobs: int | None = typer.Option(None, "--jobs", "-j", help="Parallel fits (default: execution.n_jobs)."),
    backend: str | None = typer.Option(None, "--backend", help="local or dask (default: execution.backend)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="dask scheduler address (tcp://HOST:PORT)."),
    rerun: bool = typer.Option(False, "--rerun", help="Analyse again and write a new run folder even if the "
                               "latest run is up to date (unchanged fits still come from the cache)."),
) -> None:
    """Execute the plan (resuming from the cache), then judge it against the finish line."""
    from mlproj.workflow import review

    _check_run_options(config, jobs, backend, scheduler)  # also when the latest run is up to date
    current = None if rerun else review.current_run(config)
    if current is not None:
        from mlproj.report import console

        out.print(f"Up to date: {_relative(current.run_dir)} matches the project file and the catalogue; "
                  "nothing to fit (--rerun writes a new run folder from the cache).")
        console.print_verdict(out, current.verdict, current.summary)
        return

    from mlproj.plan.estimators import HISTORICAL
    from mlproj.project.loading import load_project
    from mlproj.report import console
    from mlproj.report.progress import fit_progress
    from mlproj.workflow import run as runner

    loaded = load_project(config)
    runner.project_runs(loaded)  # a name another project file of the folder owns: said before any fit
    prepared = runner.prepare(loaded)
    n_jobs = jobs if jobs is not None else loaded.project.execution.n_jobs
    backend = backend or loaded.project.execution.backend
    address = scheduler or loaded.project.execution.scheduler
    if backend == "dask" and not address:
        raise MlprojError("the dask backend needs a scheduler address",
                          hint="pass --scheduler tcp://HOST:PORT or set execution.scheduler")
    _print_warnings_and_notes(prepared.dataset)
    for reason, count in prepared.dataset.dropped.items():
        out.print(f"Dropped {console.count(count, 'row')} {reason}.")
    total = len(prepared.plan.tasks)
    cached = runner.cached_count(prepared)
    plan = prepared.plan
    out.print(f"{prepared.loaded.project.name}: {console.count(len(plan.models), 'model')} × "
              f"{console.count(plan.repeats, 'repeat')} × {console.count(plan.folds, 'fold')} = {total} fits "
              f"({cached} cached) on {prepared.dataset.n_rows} objects"
              + (f", + {len(plan.ablation_tasks)} ablation fits ({runner.cached_ablation_count(prepared)} cached)"
                 if plan.ablation_tasks else ""))
    from mlproj.store.lock import project_lock

    # The historical baseline's tasks read a column and fit nothing: they are no progress to show.
    fits = [(t.key, t.model) for t in plan.tasks if plan.model(t.model).estimator != HISTORICAL]
    fits += [(t.key, f"{t.model} ablations") for t in plan.ablation_tasks]
    with project_lock(loaded.root, loaded.project.name), fit_progress(fits, console=err) as progress:
        outcome = runner.run_project(
            prepared, n_jobs=n_jobs, scheduler=address if backend == "dask" else None,
            on_task=lambda output: progress.task_done(output.key, output.cached, failed=output.error is not None))
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
    console.print_verdict(out, outcome.verdict, outcome.summary, already_shown=set(prepared.dataset.warnings))
    out.print(f"Run written to {_relative(outcome.run_dir)}; `mlproj verdict` shows it again (exit code = verdict).")
    if outcome.report is not None:
        out.print(f"Report: {_relative(outcome.report)}")
    if outcome.report_error:  # the run and its verdict stand; only the report is missing
        err.print(f"[yellow]warning:[/] the report could not be written: {escape(outcome.report_error)}; "
                  "`mlproj report` tries again", markup=True)


def _check_run_options(config: Path, jobs: int | None, backend: str | None, scheduler: str | None) -> None:
    """The command line's own mistakes (the project file's values are checked when it loads)."""
    if jobs == 0:
        raise MlprojError("-j must be a positive number of workers, or negative to count back from all cores "
                          "(-1: all, -2: all but one)")
    if backend is not None and backend not in ("local", "dask"):
        raise MlprojError(f"unknown backend '{backend}'", hint="use --backend local or --backend dask")
    if scheduler:
        if backend is None:  # the project file decides; read only in this case, to keep `run` quick
            from mlproj.project.loading import load_project

            backend = load_project(config).project.execution.backend
        if backend != "dask":
            raise MlprojError(f"--scheduler {scheduler} is for the dask backend, but this run uses '{backend}'",
                              hint="add --backend dask (or set execution.backend: dask), or leave out --scheduler")


@app.command()
@_guard
def verdict(
    run_dir: str | None = RunArgument,
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print verdict.json."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write a JUnit XML report (one case per criterion)."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Also write the verdict as Markdown (for a CI "
                                         "step summary or a pull-request comment)."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Show the run's verdict even if the project file "
                                     "or catalogue changed since (it judged the old ones)."),
) -> None:
    """A run's verdict on the finish line (default: this project file's latest run): exit 0 pass, 1 fail,
    3 undetermined, 2 invalid or stale (a run of another project file counts as stale)."""
    from mlproj.report import console
    from mlproj.report.junit import write_junit
    from mlproj.workflow import review

    result = review.rejudge(run_dir, config, allow_stale=allow_stale)
    if junit is not None:
        write_junit(junit, result.verdict, result.project_name)
    if markdown is not None:
        from mlproj.report.markdown import write_verdict_markdown

        write_verdict_markdown(markdown, result.verdict, result.summary, result.project_name, result.stale)
    for reason in result.stale:  # on stderr also with --json: CI logs show it, the JSON stays clean
        err.print(f"[yellow]warning:[/] stale run: {escape(reason)} (--allow-stale: this is the old run's verdict)",
                  markup=True)
    try:
        if as_json:
            sys.stdout.write(json.dumps(result.verdict.to_dict(), indent=2) + "\n")
            sys.stdout.flush()
        else:
            console.print_verdict(out, result.verdict, result.summary)
            out.print(f"Run: {_relative(result.run_dir)}")
    except BrokenPipeError:  # the JSON is written directly, not through the console
        _stdout_closed()
    raise typer.Exit(result.verdict.exit_code)


@app.command()
@_guard
def predict(
    run_dir: str | None = RunArgument,
    data: Path = typer.Option(..., "--data", help="Catalogue to predict (any format a project reads: .csv, .parquet, .fits, ...)."),
    out_file: Path = typer.Option(..., "--out", help="Where to write the predictions (.csv, .parquet, .fits)."),
    columns: str | None = typer.Option(None, "--columns", help="Columns the new catalogue names differently, "
                                       "new=project, e.g. psfMag_r=r,psfMag_g=g."),
    map_file: Path | None = typer.Option(None, "--map", help="A YAML file of lines new_name: project_name."),
    model: str | None = typer.Option(None, "--model", help="A saved model other than the selected one."),
    draws: int = typer.Option(0, "--draws", min=0, max=1000,
                              help="Average over this many draws of the inputs from their errors (data.errors)."),
    config: Path = ConfigOption,
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Predict even if config or data changed."),
) -> None:
    """Apply the selected model of this project file's run to a new catalogue; keeps every input column."""
    from mlproj.data.catalogue import parse_column_map
    from mlproj.workflow import review
    from mlproj.workflow.predict import predict as apply_model

    mapping = parse_column_map(columns, map_file)
    result = review.rejudge(run_dir, config, allow_stale=allow_stale)
    done = apply_model(result.run_dir, data, out_file, model=model, draws=draws, columns=mapping)
    out.print(f"Wrote {done.rows} predictions of {done.model} to {out_file} (new columns: {', '.join(done.columns)}); "
              f"{done.applicability()}.")
    if done.warning:
        err.print(f"[yellow]warning:[/] {escape(done.warning)}", markup=True)


@app.command()
@_guard
def report(
    run_dir: str | None = RunArgument,
    config: Path = ConfigOption,
    latex: bool = typer.Option(False, "--latex", help="Also write the comparison table as a LaTeX fragment."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Report on the run even if the project file "
                                     "or catalogue changed since."),
) -> None:
    """(Re)write a run's report.html, report.md, metrics.json, models/model_card.md and figures/ (default: the latest run)."""
    from mlproj.workflow import review
    from mlproj.workflow.report import write_report

    result = review.rejudge(run_dir, config, allow_stale=allow_stale)
    written = write_report(result.run_dir, latex=latex)
    out.print(f"Report written to {_relative(written.html)} and {written.markdown.name}"
              + (f", {len({p.stem for p in written.figures})} figures in figures/ (PNG and PDF)"
                 if written.figures else "")
              + (f", LaTeX table {written.latex.name}" if written.latex else "") + ".")


@app.command("runs")
@_guard
def list_runs(config: Path = ConfigOption) -> None:
    """List this project file's runs (runs/<project>/), newest last: when, config hash, selected
    model, primary metric (mean ± corrected SE) and verdict."""
    from rich import box
    from rich.table import Table

    from mlproj.science.numbers import general, significant
    from mlproj.workflow import review

    folder, rows = review.runs_table(config)
    if not rows:
        out.print(f"No runs yet in {_relative(folder)}; `mlproj run -c {config}` makes the first.")
        return
    # The metric most runs share goes in the heading; a run that changed it names its own.
    labels = [row.metric for row in rows if row.metric]
    shared = max(labels, key=labels.count) if labels else None
    out.print(f"Runs of {config} in {_relative(folder)}, oldest first"
              + (f"; primary metric {shared} (mean ± corrected SE):" if shared else ":"))
    # Numbers, times and hashes never break; a long model name folds rather than being cut (a cut name names nothing).
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    for column in ("time", "hash", "selected", "primary ± SE", "verdict"):
        table.add_column(column, no_wrap=column not in ("hash", "selected"), overflow="fold")
    for row in rows:
        score = "—" if row.mean is None else significant(row.mean, row.se) if row.se is not None else general(row.mean)
        if row.metric != shared and row.mean is not None:
            score = f"{row.metric}:\n{score}"
        # A folder renamed by hand has no time or hash in its name: its name is then what names it.
        table.add_row(row.started.strftime("%Y-%m-%d %H:%M UTC") if row.started else "—",
                      row.name.split("-", 1)[1] if row.config_hash else row.name, row.selected or "—", score,
                      row.status + (" ◀ latest" if row.latest else ""))
    out.print(table)
    latest = next((row for row in rows if row.latest), None)
    if latest is not None:
        out.print(f"Latest: {latest.name} ({latest.status}" + (f", selected {latest.selected}" if latest.selected
                                                                else "") + ").")
    out.print("A run is named by its hash (or a prefix), folder name or path: `mlproj verdict HASH`, "
              "`mlproj compare A B`.")


@app.command()
@_guard
def compare(
    run_a: str = typer.Argument(..., metavar="A", help="A run: its config hash or a unique prefix of it or of its "
                                "folder name, its folder name, or a path (`mlproj runs` lists them)."),
    run_b: str = typer.Argument(..., metavar="B", help="The run to compare A with, named the same ways."),
    config: Path = ConfigOption,
) -> None:
    """Two runs of this project file side by side: what changed in the project file and the data,
    in the decisions (selected models, finish lines, criteria) and in every model's scores."""
    from mlproj.report.compare import print_comparison
    from mlproj.workflow.compare import compare_runs

    print_comparison(out, compare_runs(run_a, run_b, config))


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
    _print_third_party(task)


def _print_third_party(task: str) -> None:
    """The third-party estimators mlproj saves in their own format: usable once listed in allow_imports."""
    import importlib.util

    from mlproj.plan.estimators import BOOSTING_EXTRA, THIRD_PARTY_PATHS

    kind = "Classifier" if task == "classification" else "Regressor"
    out.print(f"Third-party (write the import path and list it under allow_imports; {BOOSTING_EXTRA}):")
    for name, path in THIRD_PARTY_PATHS.items():
        if name.endswith(kind):
            found = importlib.util.find_spec(path.split(".")[0]) is not None
            out.print(f"{path:40s} {'trees':8s} {'installed' if found else 'not installed'}", soft_wrap=True)


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
    from mlproj.execute.cache import Cache
    from mlproj.project.loading import load_project
    from mlproj.workflow import review
    from mlproj.workflow import run as runner

    loaded = load_project(config)
    keep: set[str] = set()
    others: list[str] = []
    if not everything:
        plan = runner.prepare(loaded).plan
        keep = {t.key for t in plan.tasks} | {t.key for t in plan.final_tasks.values()}
        keep |= {t.key for t in plan.ablation_tasks}
        # The cache is the folder's: the other project files' latest runs keep their fits.
        own = runner.project_runs(loaded)
        for name, keys in review.fits_of_other_projects(loaded.root, own).items():
            keep |= keys
            others.append(name)
    files, freed = Cache(loaded.root / runner.CACHE_DIR).prune(keep)
    kept = " and of the latest runs of " + ", ".join(others) if others else ""
    out.print(f"Removed {files} cache files ({freed / 1e6:.1f} MB); kept the fits of the current plan{kept}."
              if not everything else f"Removed {files} cache files ({freed / 1e6:.1f} MB).")


@app.command()
@_guard
def schema() -> None:
    """Print the JSON Schema of the project file (for editors and validation; `mlproj init` writes it
    beside the project file as mlproj.schema.json)."""
    from mlproj.workflow.schema import project_schema

    sys.stdout.write(json.dumps(project_schema(), indent=2) + "\n")


# ---------------------------------------------------------------------------------------- rendering


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_plan(prepared) -> None:
    from mlproj.report import console
    from mlproj.workflow import run as runner

    plan = prepared.plan
    console.print_plan(out, plan, runner.describe_plan(plan), runner.cached_count(prepared), prepared.cases,
                       runner.cached_ablation_count(prepared))


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


def _show_library_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library warning that escaped mlproj's own checks, as one line of ours, not the raw
    `file:line: RuntimeWarning:` text with a source line (issue 22.8: never raw)."""
    parts = Path(filename).parts
    packages = [i for i, part in enumerate(parts[:-1]) if part in ("site-packages", "dist-packages")]
    where = parts[packages[-1] + 1] if packages else Path(filename).stem  # the library, e.g. numpy
    err.print(f"[yellow]warning:[/] {escape(str(message))} (from {escape(where)}; "
              "please report it if mlproj did not explain it above)", markup=True)


def entry() -> None:
    import signal

    limit_openmp_spinning()
    signal.signal(signal.SIGTERM, _terminate)
    warnings.showwarning = _show_library_warning
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
