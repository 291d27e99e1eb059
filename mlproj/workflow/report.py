"""Write a run's report: report.html, report.md, metrics.json, figures/ (and, asked, comparison.tex).

`mlproj run` calls it once the run is in place; `mlproj report [RUN]` calls it again (after an
upgrade, or for the LaTeX table). Everything is drawn from the run folder alone (summary.json,
verdict.json, project.yaml, plan.json, environment.json, evaluation/, runs/trials.csv), so a
pruned cache or a changed catalogue does not change the report of an old run. Every file is
written atomically; matplotlib is imported only here, when figures are made.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlproj.analyse.types import Summary
from mlproj.errors import RunError
from mlproj.report import html, markdown
from mlproj.report.ablations import ablation_section
from mlproj.report.document import FigureBlock
from mlproj.report.harness import harness_section
from mlproj.report.interrogation import interrogation_section
from mlproj.report.latex import comparison_table
from mlproj.report.metrics import flat_metrics
from mlproj.report.model_card import write_model_card
from mlproj.report.sections import ReportContext, report_document
from mlproj.report.shift import shift_section
from mlproj.report.variants import variant_sections
from mlproj.store import rundir
from mlproj.store.files import write_text_atomic
from mlproj.store.trials import FILE as TRIALS_FILE
from mlproj.store.trials import read_trials
from mlproj.verdict.types import Verdict

FIGURES = "figures"


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    metrics: Path
    figures: list[Path] = field(default_factory=list)
    latex: Path | None = None
    metrics_copy: Path | None = None
    model_card: Path | None = None


def trials_of(run_dir: Path, project: str | None) -> list[dict[str, str]]:
    """This project's lines of `runs/trials.csv` (run_dir is runs/<project>/<run>/)."""
    path = run_dir.parent.parent / TRIALS_FILE
    return [t for t in read_trials(path) if t.get("project") == (project or "")]


def figures_enabled(project: dict) -> bool:
    """Figures are drawn unless the project says `report: {figures: false}` or the environment
    MLPROJ_FIGURES=off (a CI job that only gates on the verdict)."""
    if os.environ.get("MLPROJ_FIGURES", "").strip().lower() in ("0", "off", "false", "no"):
        return False
    return bool((project.get("report") or {}).get("figures", True))


def write_report(run_dir: Path, *, latex: bool | None = None, figures: bool | None = None,
                 metrics_file: Path | None = None, drawn=None) -> ReportFiles:
    """(Re)write the report files of a finished run. `latex`, `figures`: None takes the
    project file's `report:` settings; `metrics_file`: where to copy metrics.json (None: the
    project's `report.metrics_file`, relative to the project file); `drawn`: the figures a run's
    workers drew (workflow.figure_pool), written as they are."""
    run_dir = Path(run_dir)
    summary = Summary.from_dict(rundir.read_json(run_dir / "summary.json"))
    verdict = Verdict.from_dict(rundir.read_json(run_dir / "verdict.json"))
    project = _read_project(run_dir / "project.yaml")
    environment = rundir.read_json(run_dir / "environment.json")
    plan = rundir.read_json(run_dir / "plan.json")
    # The model card first (paper §6.2), so that a figure that fails to draw cannot leave a run without it.
    card = write_model_card(run_dir)
    settings = project.get("report") or {}
    draw = figures_enabled(project) if figures is None else figures
    made: dict[str, tuple[FigureBlock, bytes]] = {}
    paths: list[Path] = []
    if draw:
        from mlproj.workflow.report_figures import make_figures

        made, paths = make_figures(run_dir, run_dir / FIGURES, summary, verdict, project, drawn=drawn)
    context = ReportContext(run_dir.name, project, environment, plan, trials_of(run_dir, summary.project),
                            {stem: block for stem, (block, _) in made.items()})
    # What the models learned, in the paper's order: model variants and tuning, feature
    # ablations, the test harness, then the interrogation of the selected model.
    extra = [*variant_sections(summary), ablation_section(summary, context.figures),
             harness_section(summary, verdict), interrogation_section(summary, context.figures),
             shift_section(summary, context.figures, verdict.selected_model)]
    document = report_document(summary, verdict, context, extra=[s for s in extra if s is not None])
    files = ReportFiles(run_dir / "report.html", run_dir / "report.md", run_dir / "metrics.json", paths,
                        model_card=card)
    write_text_atomic(files.markdown, markdown.render(document, FIGURES))
    write_text_atomic(files.html, html.render(document, {stem: png for stem, (_, png) in made.items()}))
    numbers = json.dumps(flat_metrics(summary, verdict), indent=2, allow_nan=False) + "\n"
    write_text_atomic(files.metrics, numbers)
    if latex or settings.get("latex"):
        files.latex = run_dir / "comparison.tex"
        write_text_atomic(files.latex, comparison_table(summary, verdict))
    copy = metrics_file
    if copy is None and settings.get("metrics_file"):
        config = Path((environment.get("config") or {}).get("path") or run_dir)
        copy = config.parent / settings["metrics_file"]
    if copy is not None:
        rundir.make_folder(copy.parent)
        write_text_atomic(copy, numbers)
        files.metrics_copy = copy
    return files


def _read_project(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} is missing", hint="run `mlproj run --rerun` to write the run again") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise RunError(f"{path} is damaged", hint="run `mlproj run --rerun` to write the run again") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} is damaged", hint="run `mlproj run --rerun` to write the run again")
    return data
