#!/usr/bin/env python
"""Performance benchmarks of mlproj against the targets of DESIGN §8.

    python tests/benchmarks/bench.py            # everything, including 1,000,000 rows (can take 30+ min)
    python tests/benchmarks/bench.py --quick    # a few minutes: 1 timing per setting, scale at 100,000 rows

Every measurement prints one line as soon as it is known; a Markdown summary table (for
CHANGELOG.md) comes last. All work happens in a temporary folder; nothing in the repository is
written. The benchmark only drives mlproj from the outside (the console script, as a user
would) and reads what a run leaves behind (the cache, runs/<project>/latest); it changes nothing in mlproj.

1. Startup: wall time of `mlproj --help`, `mlproj schema`, `mlproj verdict` as subprocesses,
   and which heavy modules the CLI has imported after running in-process.
2. Orchestration overhead at -j 1: `mlproj run -j 1` against a hand-written scikit-learn loop
   that fits the very same estimators (mlproj.plan.estimators.build_estimator) on the very same rows
   (the plan of mlproj.workflow.run.prepare) and computes the ROC AUC of every fold.
3. -j 2 speed-up: `mlproj run -j 2` against `-j 1`, both with a fresh cache.
4. No-op re-run: `mlproj run` again with nothing changed; the catalogue's hashing time apart.
5. Scale: 1,000,000 rows x 20 features (Parquet), the default plan at -j 2: wall time and the
   peak memory of the whole process tree (fits are threads by default; worker processes, with
   `execution.workers: processes`, would be descendants and are counted too).
5b. The same without the random forest (dummy, logistic, HGB): the memory of the data handling
   apart from the forests' trees.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

# One definition of where a project file's latest run is (either run-folder layout), shared with
# the golden records; both scripts drive mlproj from outside, so neither imports mlproj for it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
from record import latest_run_of  # noqa: E402

CORES = os.cpu_count() or 1
HEAVY = ("sklearn", "pandas", "matplotlib")  # must not be imported by --help, schema, verdict
ALSO_REPORTED = ("scipy", "numpy", "pyarrow", "joblib")  # shown for information
TARGETS = {
    "startup": 0.3,  # s
    "overhead": 1.10,  # mlproj run -j 1 / hand loop
    "speedup": 1.7,  # (-j 1 time) / (-j 2 time) on 2 cores
    "noop": 2.0,  # s, plus data hashing
    "memory": 3.0,  # peak memory / (rows x features x 8 bytes)
}
OK_RUN_CODES = (0, 1, 3)  # verdict pass / fail / undetermined: the run itself worked
IDLE_BUDGET = {"left": 0.0}  # seconds we may still wait for other processes to leave the CPUs


# ------------------------------------------------------------------------------------- helpers


def say(text: str = "") -> None:
    print(text, flush=True)


def mlproj_command() -> list[str]:
    """The installed console script itself (not a pyenv shim, whose bash start-up is not ours)."""
    script = Path(sysconfig.get_path("scripts")) / ("mlproj.exe" if os.name == "nt" else "mlproj")
    if script.exists():
        return [str(script)]
    found = shutil.which("mlproj")
    return [found] if found else [sys.executable, "-m", "mlproj"]


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["COLUMNS"] = "120"  # rich renders to a pipe; a fixed width keeps the output comparable
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _children_cpu_seconds() -> float:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def run(cmd: list[str], cwd: Path, env: dict, ok=(0,), timeout: float | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one command; the result also carries its CPU seconds (`cpu`, all threads)
    and the cores other processes used meanwhile (`other_load`)."""
    with OtherLoad() as load:
        cpu = _children_cpu_seconds()
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        done.cpu = _children_cpu_seconds() - cpu
    done.other_load = load.cores
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(map(str, cmd))} (in {cwd}) exited with {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds, done


def median_time(cmd: list[str], cwd: Path, env: dict, n: int, ok=(0,), warmup: int = 1) -> tuple[float, float]:
    for _ in range(warmup):
        run(cmd, cwd, env, ok)
    times = [run(cmd, cwd, env, ok)[0] for _ in range(n)]
    return statistics.median(times), min(times)


def fresh(project: Path) -> None:
    """Forget every previous run and cached fit of a project."""
    shutil.rmtree(project / ".mlproj", ignore_errors=True)
    shutil.rmtree(project / "runs", ignore_errors=True)


def mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.0f} MB"


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**FAIL**")


def latest_verdict(project: Path) -> dict:
    return json.loads((latest_run_of(project / "mlproj.yaml") / "verdict.json").read_text())


def latest_summary(project: Path) -> dict:
    return json.loads((latest_run_of(project / "mlproj.yaml") / "summary.json").read_text())


def plan_keys(project: Path, env: dict) -> tuple[float, dict[str, str]]:
    """`mlproj plan --json`: its wall time (= start-up + data loading + checks + plan) and key → model."""
    seconds, done = run(mlproj_command() + ["plan", "--json"], project, env)
    plan = json.loads(done.stdout)
    return seconds, {t["key"]: t["model"] for t in plan["tasks"]}


def cached_fit_seconds(project: Path, keys: dict[str, str]) -> tuple[dict[str, float], dict[str, int]]:
    """Fit seconds per model as mlproj measured them (stored in every cache entry); 'final' = test fit."""
    import numpy as np

    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for path in sorted((project / ".mlproj" / "cache").glob("*/*.npz")):
        model = keys.get(path.stem, "final")
        with np.load(path, allow_pickle=False) as entry:
            seconds[model] = seconds.get(model, 0.0) + float(entry["fit_seconds"])
        counts[model] = counts.get(model, 0) + 1
    return seconds, counts


def per_model(seconds: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())


# ------------------------------------------------------------- load from other users of the CPUs


def _busy_cpu_seconds() -> float | None:
    """CPU seconds spent by the whole machine (all cores, not idle) since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and every descendant already waited for (loky workers included)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class OtherLoad:
    """Average cores used by processes that are not ours while a measurement runs.

    The machine's busy CPU time minus our own (and our finished descendants'): other sessions
    running tests on the same two cores make every timing, and OpenMP fits especially, slower.
    """

    history: list[float] = []

    def __enter__(self):
        self.start, self.busy, self.own = time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()
        return self

    def __exit__(self, *exc):
        busy = _busy_cpu_seconds()
        wall = time.perf_counter() - self.start
        if busy is None or self.busy is None or wall <= 0:
            self.cores = float("nan")
        else:
            self.cores = max(0.0, (busy - self.busy) - (_own_cpu_seconds() - self.own)) / wall
            OtherLoad.history.append(self.cores)
        return False


def wait_for_idle(budget: dict, threshold: float = 0.25, window: float = 2.0) -> float:
    """Wait (within the remaining budget, seconds) until other processes use < threshold cores."""
    waited = 0.0
    while True:
        start = time.perf_counter()
        busy, own = _busy_cpu_seconds(), _own_cpu_seconds()
        if busy is None:
            return float("nan")
        time.sleep(window)
        wall = time.perf_counter() - start
        load = max(0.0, (_busy_cpu_seconds() - busy) - (_own_cpu_seconds() - own)) / wall
        if load < threshold or budget["left"] <= 0:
            if waited:
                say(f"  (waited {waited:.0f} s for other processes to leave the CPUs; now {load:.2f} cores busy)")
            elif load >= threshold:
                say(f"  (other processes use {load:.2f} cores; no waiting time left, measuring anyway)")
            return load
        if not waited:
            say(f"  (other processes use {load:.2f} cores: waiting up to {budget['left']:.0f} s for them)")
        pause = min(10.0, budget["left"])
        time.sleep(pause)
        budget["left"] -= pause + wall
        waited += pause + wall


# ------------------------------------------------------------------- process-tree memory monitor


def _proc_session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[3])  # fields after "(comm)": state ppid pgrp session ...
    except (OSError, IndexError, ValueError):
        return None


def _proc_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; PSS splits shared pages (joblib memory maps) between their users."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                    break
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    return rss, pss or rss


def _proc_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            parts = handle.read().split(b"\0")
        text = " ".join(p.decode(errors="replace") for p in parts if p)
    except OSError:
        return "?"
    if "loky" in text or "joblib" in text:
        return "worker"
    if "/usr/bin/time" in text:
        return "time"
    if "mlproj" in text:
        return "mlproj"
    return Path(parts[0].decode(errors="replace")).name if parts and parts[0] else "?"


class TreeSampler:
    """Peak memory of every process in a session (the command we started and all descendants)."""

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.session = root_pid  # started with start_new_session=True: the session id is its pid
        self.proc = Path("/proc").is_dir() and _proc_session(root_pid) is not None
        self.peak_rss = self.peak_pss = 0
        self.peak_at = 0.0
        self.peak_breakdown: list[tuple[str, int]] = []
        self.max_processes = 0
        self.samples = 0
        self._psutil = None
        if not self.proc:
            try:
                import psutil

                self._psutil = psutil.Process(root_pid)
            except Exception:  # noqa: BLE001 - psutil missing or process gone: ru_maxrss only
                self._psutil = None

    def pids(self) -> list[int]:
        if self.proc:
            found = []
            for entry in os.listdir("/proc"):
                if entry.isdigit() and _proc_session(int(entry)) == self.session:
                    found.append(int(entry))
            return found
        if self._psutil is not None:
            try:
                return [self._psutil.pid] + [p.pid for p in self._psutil.children(recursive=True)]
            except Exception:  # noqa: BLE001
                return []
        return []

    def sample(self, elapsed: float) -> None:
        rss_total = pss_total = 0
        breakdown = []
        pids = self.pids()
        for pid in pids:
            if self.proc:
                rss, pss = _proc_memory(pid)
            else:
                try:
                    import psutil

                    info = psutil.Process(pid).memory_full_info()
                    rss, pss = info.rss, getattr(info, "pss", info.rss)
                except Exception:  # noqa: BLE001
                    continue
            rss_total += rss
            pss_total += pss
            breakdown.append((pid, pss))
        self.samples += 1
        self.max_processes = max(self.max_processes, len(pids))
        self.peak_rss = max(self.peak_rss, rss_total)
        if pss_total > self.peak_pss:
            self.peak_pss, self.peak_at = pss_total, elapsed
            self.peak_breakdown = [(_proc_name(pid), pss) for pid, pss in breakdown if pss > 5e6]


def monitored(cmd: list[str], cwd: Path, env: dict, timeout: float | None, interval: float = 0.2) -> dict:
    """Run cmd, sampling the memory of its whole process tree; stop it (SIGINT, then SIGKILL) on timeout."""
    wrap = Path("/usr/bin/time")
    time_file = cwd / ".bench-time.txt"
    full = ([str(wrap), "-v", "-o", str(time_file)] if wrap.exists() else []) + cmd
    out_path, err_path = cwd / ".bench-stdout.txt", cwd / ".bench-stderr.txt"
    start = time.perf_counter()
    load = OtherLoad().__enter__()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        timed_out = False
        while proc.poll() is None:
            elapsed = time.perf_counter() - start
            sampler.sample(elapsed)
            if timeout is not None and elapsed > timeout and not timed_out:
                timed_out = True
                _stop(proc, sampler)
                break
            time.sleep(interval)
        proc.wait()
    wall = time.perf_counter() - start
    load.__exit__(None, None, None)
    max_single = None
    if time_file.exists():
        for line in time_file.read_text().splitlines():
            if "Maximum resident set size" in line:
                max_single = int(line.split(":")[1]) * 1024
    else:
        import resource

        max_single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # largest child so far
    return {"wall": wall, "returncode": proc.returncode, "timed_out": timed_out, "peak_pss": sampler.peak_pss,
            "peak_rss_sum": sampler.peak_rss, "peak_at": sampler.peak_at, "max_single_rss": max_single,
            "breakdown": sampler.peak_breakdown, "other_load": load.cores, "processes": sampler.max_processes, "samples": sampler.samples,
            "stdout": out_path.read_text(), "stderr": err_path.read_text()}


def _stop(proc: subprocess.Popen, sampler: TreeSampler) -> None:
    """Interrupt the run we started (mlproj keeps finished fits on Ctrl-C), then kill what is left."""
    try:
        os.killpg(proc.pid, signal.SIGINT)  # our own session/process group, by its id
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    for pid in sampler.pids():  # only processes of the session we started
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------------- projects


def template_config() -> dict:
    from importlib import resources

    import yaml

    text = (resources.files("mlproj") / "templates" / "classification.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def write_config(project: Path, config: dict) -> None:
    import yaml

    (project / "mlproj.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def orchestration_project(project: Path, rows: int) -> None:
    """The classification template (dummy, logistic, random forest, HGB) on `rows` simulated objects, 5 x 1 folds."""
    from mlproj.data.simulate import star_galaxy_catalogue

    project.mkdir(parents=True)
    star_galaxy_catalogue(rows, seed=0).to_csv(project / "catalogue.csv", index=False, lineterminator="\n")
    config = template_config()
    config["name"] = "bench-orchestration"
    config["validation"].update(folds=5, repeats=1)
    config["baselines"] = ["dummy", "standard"]
    write_config(project, config)


def scale_project(project: Path, rows: int, features: int = 20, seed: int = 0) -> float:
    """`rows` x `features` float64 columns plus an int8 label in Parquet; returns the seconds it took."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = time.perf_counter()
    project.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    columns = {f"f{j:02d}": rng.standard_normal(rows) for j in range(features)}
    c = columns
    # A learnable but noisy boundary (non-linear terms for the trees, a logistic noise for realism).
    logit = (1.5 * c["f00"] - c["f01"] + 0.8 * c["f02"] * c["f03"] + np.sin(2 * c["f04"])
             + 0.5 * c["f05"] ** 2 - 0.5)
    columns["label"] = (logit + rng.logistic(size=rows) > 0).astype(np.int8)
    pq.write_table(pa.table(columns), project / "catalogue.parquet")
    del columns, c, logit
    config = template_config()
    config["name"] = "bench-scale"
    config["objective"]["statement"] = ("Benchmark: separate simulated signal from background in a "
                                        f"{rows:,}-row, {features}-feature catalogue at 1% contamination.")
    config["data"] = {"path": "catalogue.parquet", "label": "label",
                      "features": [f"f{j:02d}" for j in range(features)]}
    config["classes"] = {"signal": "label == 1", "background": "label == 0"}
    config["positive"] = "signal"
    config["validation"].update(folds=5, repeats=1)
    config["baselines"] = ["dummy", "standard"]
    write_config(project, config)
    return time.perf_counter() - start


# The hand-written loop. Only mlproj's own preparation (to get the identical rows, splits, seeds
# and estimators) is excluded from its time; its interpreter start-up, imports and its own
# reading of the catalogue count, as they would for a script.
HAND_LOOP = textwrap.dedent('''
    import json, sys, time, warnings
    from pathlib import Path
    t_start = time.perf_counter()
    import numpy as np
    import pandas as pd
    import yaml
    from sklearn.metrics import roc_auc_score
    # The estimators a script fitting this plan imports (it takes their instances from
    # mlproj.plan.estimators below, to be sure they are the same, but their import is its own cost).
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    project, selected = Path(sys.argv[1]), sys.argv[2]
    config = yaml.safe_load((project / "mlproj.yaml").read_text())
    frame = pd.read_csv(project / config["data"]["path"])
    derived = config["data"].get("derived") or {}
    for name, expression in derived.items():
        frame[name] = frame.eval(expression)
    X_own = frame[list(config["data"]["features"]) + list(derived)].to_numpy(dtype=np.float64)
    y_own = frame[config["data"]["label"]].to_numpy()
    t_read = time.perf_counter()

    from mlproj.project.loading import load_project
    from mlproj.execute.threads import inner_threads
    from mlproj.plan.estimators import build_estimator
    from mlproj.workflow.run import prepare
    prepared = prepare(load_project(project / "mlproj.yaml"))
    t_prepared = time.perf_counter()

    plan, X, y, positive = prepared.plan, prepared.dataset.X, prepared.dataset.y, prepared.dataset.positive
    assert X.shape[0] <= X_own.shape[0]

    def fit_score(task):
        train, valid = plan.rows_for(task)
        estimator = build_estimator(plan.model(task.model), plan.task_kind, task.seed)
        estimator.fit(X[train], y[train])
        proba = estimator.predict_proba(X[valid])
        column = list(estimator.classes_).index(positive)
        return roc_auc_score(y[valid] == positive, proba[:, column])

    fit_seconds, aucs = {}, {}
    with warnings.catch_warnings(), threadpool_limits(limits={"openmp": inner_threads(1, 1), "blas": 1}):
        warnings.simplefilter("ignore")
        for task in plan.tasks:
            t = time.perf_counter()
            aucs.setdefault(task.model, []).append(fit_score(task))
            fit_seconds[task.model] = fit_seconds.get(task.model, 0.0) + time.perf_counter() - t
        t_cv = time.perf_counter()
        final_auc = fit_score(plan.final_tasks[selected]) if selected else None
    t_end = time.perf_counter()
    print(json.dumps({"own_read": t_read - t_start, "prepare": t_prepared - t_read, "cv": t_cv - t_prepared,
                      "final": t_end - t_cv, "fit_seconds": fit_seconds,
                      "auc": {k: float(np.mean(v)) for k, v in aucs.items()}, "final_auc": final_auc,
                      "threads": inner_threads(1, 1)}))
''')

HEAVY_CHECK = textwrap.dedent('''
    import json, sys
    from typer.testing import CliRunner
    from mlproj.cli import app
    result = CliRunner().invoke(app, sys.argv[1:])
    print(json.dumps({"exit_code": result.exit_code,
                      "loaded": [m for m in %r if m in sys.modules]}))
''') % (HEAVY + ALSO_REPORTED,)


# ------------------------------------------------------------------------------ benchmarks


def bench_startup(work: Path, env: dict, n: int, results: dict) -> None:
    say("## 1. Startup")
    cli = mlproj_command()
    wait_for_idle(IDLE_BUDGET)
    say(f"console script: {cli[0]}")
    base, _ = median_time([sys.executable, "-c", "pass"], work, env, n)
    say(f"startup  python -c pass (interpreter alone): median {base:.3f} s")
    results["python_startup"] = base
    for name, args in (("help", ["--help"]), ("schema", ["schema"])):
        med, low = median_time(cli + args, work, env, n)
        results[f"startup_{name}"] = med
        say(f"startup  mlproj {' '.join(args)}: median {med:.3f} s (min {low:.3f} s, {n} runs) "
            f"[target < {TARGETS['startup']} s] {status(med < TARGETS['startup'])}")
    demo = work / "demo"
    run(cli + ["init", str(demo), "--template", "classification"], work, env)
    run(cli + ["run", "-j", str(min(2, CORES))], demo, env, ok=OK_RUN_CODES)
    med, low = median_time(cli + ["verdict"], demo, env, n, ok=OK_RUN_CODES)
    results["startup_verdict"] = med
    say(f"startup  mlproj verdict (demo project, {latest_summary(demo)['data']['rows_read']:,} rows): median "
        f"{med:.3f} s (min {low:.3f} s, {n} runs) [target < {TARGETS['startup']} s] "
        f"{status(med < TARGETS['startup'])}")
    for name, args, cwd in (("help", ["--help"], work), ("schema", ["schema"], work), ("verdict", ["verdict"], demo)):
        _, done = run([sys.executable, "-c", HEAVY_CHECK, *args], cwd, env)
        info = json.loads(done.stdout.strip().splitlines()[-1])
        heavy = [m for m in info["loaded"] if m in HEAVY]
        other = [m for m in info["loaded"] if m not in HEAVY]
        results[f"imports_{name}"] = {"heavy": heavy, "other": other}
        say(f"imports  in-process `mlproj {' '.join(args)}` (exit {info['exit_code']}): heavy modules loaded: "
            f"{', '.join(heavy) or 'none'} (of {', '.join(HEAVY)}); also loaded: {', '.join(other) or 'none'} "
            f"{status(not heavy)}")


def bench_orchestration(work: Path, env: dict, rows: int, reps: int, threads: int, results: dict) -> None:
    say(f"\n## 2-4. Orchestration overhead, -j 2 speed-up, no-op re-run: {rows:,} rows")
    cli = mlproj_command()
    project = work / f"orchestration-{rows}"
    r: dict = {}
    results.setdefault("orchestration", []).append(r)
    orchestration_project(project, rows)
    loop_script = work / "hand_loop.py"
    loop_script.write_text(HAND_LOOP)
    prepare_s, keys = plan_keys(project, env)
    say(f"project  {rows:,} simulated objects (star_galaxy_catalogue), dummy + logistic + random_forest + hgb, "
        f"5 folds x 1 repeat = {len(keys)} CV fits + 1 final fit; OMP_NUM_THREADS={threads}")
    say(f"prepare  `mlproj plan` (start-up, read, checks, plan; no fits): {prepare_s:.2f} s")
    r["prepare"] = prepare_s

    j1, j2, hand, hand_cv = [], [], [], []
    cpu1, cpu2 = [], []  # CPU seconds of each run, all threads
    mlproj_fits_j1 = mlproj_fits_j2 = loop_info = None
    fit_sums_j1 = []  # per repetition: the serial part is the median run minus the median fit time
    loads = []
    for rep in range(reps):
        wait_for_idle(IDLE_BUDGET)
        fresh(project)
        seconds, done = run(cli + ["run", "-j", "1"], project, env, ok=OK_RUN_CODES)
        loads.append(done.other_load)
        j1.append(seconds)
        cpu1.append(done.cpu)
        mlproj_fits_j1, _ = cached_fit_seconds(project, keys)
        fit_sums_j1.append(sum(mlproj_fits_j1.values()))
        selected = latest_verdict(project).get("selected_model") or ""
        aucs_mlproj = {name: m["metrics"]["roc_auc"]["mean"]
                       for name, m in latest_summary(project)["cases"][0]["models"].items()
                       if "roc_auc" in m["metrics"]}
        wall, done = run([sys.executable, str(loop_script), str(project), selected], project, env)
        loads.append(done.other_load)
        loop_info = json.loads(done.stdout.strip().splitlines()[-1])
        hand.append(wall - loop_info["prepare"])
        hand_cv.append(wall - loop_info["prepare"] - loop_info["final"])
        fresh(project)
        seconds, done = run(cli + ["run", "-j", "2"], project, env, ok=OK_RUN_CODES)
        loads.append(done.other_load)
        j2.append(seconds)
        cpu2.append(done.cpu)
        mlproj_fits_j2, _ = cached_fit_seconds(project, keys)
        say(f"  repetition {rep + 1}/{reps}: mlproj -j 1 {j1[-1]:.2f} s, hand loop {hand[-1]:.2f} s "
            f"(CV only {hand_cv[-1]:.2f} s), mlproj -j 2 {j2[-1]:.2f} s; other processes used "
            f"{loads[-3]:.2f} / {loads[-2]:.2f} / {loads[-1]:.2f} cores meanwhile")

    t1, t2, th, thcv = (statistics.median(v) for v in (j1, j2, hand, hand_cv))
    ratio = t1 / th
    r.update(rows=rows, j1=t1, j2=t2, hand=th, hand_cv=thcv, ratio=ratio, reps=reps, selected=selected)
    diff = max((abs(aucs_mlproj[k] - loop_info["auc"][k]) for k in loop_info["auc"] if k in aucs_mlproj),
               default=float("nan"))
    say(f"check    same fits: max |mean ROC AUC (mlproj) - mean ROC AUC (loop)| over models = {diff:.2e}; "
        f"selected model (final fit in both) = {selected or 'none'}")
    fits1 = statistics.median(fit_sums_j1)
    say(f"detail   mlproj -j 1 fit time (from its cache; median): {fits1:.2f} s (last: {per_model(mlproj_fits_j1)}); "
        f"hand loop: own imports+read {loop_info['own_read']:.2f} s, CV fits {loop_info['cv']:.2f} s "
        f"({per_model(loop_info['fit_seconds'])}), final fit {loop_info['final']:.2f} s")
    say(f"detail   mlproj -j 1 time outside fits: {t1 - fits1:.2f} s (start-up + prepare ≈ {prepare_s:.2f} s, "
        f"analysis/verdict/writing/model saving ≈ {max(0.0, t1 - fits1 - prepare_s):.2f} s)")
    say(f"overhead mlproj run -j 1 / hand loop (same fits incl. final): {t1:.2f} s / {th:.2f} s = {ratio:.3f} "
        f"[target <= {TARGETS['overhead']}] {status(ratio <= TARGETS['overhead'])}; "
        f"vs CV-only loop {t1 / thcv:.3f} (median of {reps})")
    r["fits_j1"] = fits1

    speedup = t1 / t2
    # Amdahl: what -j 1 spends outside its fits (start-up, imports, reading, analysis, writing)
    # runs on one core whatever the workers do; with fits split perfectly over the cores, -j 2
    # could at best take serial + fits / cores.
    serial = t1 - fits1
    bound = t1 / (serial + fits1 / CORES)
    r.update(speedup=speedup, serial=serial, bound=bound)
    fits2 = sum(mlproj_fits_j2.values())
    say(f"detail   mlproj -j 2 summed fit time (fits that share the cores each take longer): {fits2:.2f} s "
        f"({per_model(mlproj_fits_j2)})")
    # The fits' own speed-up: -j 2's time beyond the serial part measured at -j 1.
    r["fits_speedup"] = fits1 / max(t2 - serial, 1e-9)
    say(f"bound    -j 1 spends {serial:.2f} s of {t1:.2f} s outside its fits, on one core whatever the workers do: "
        f"with {fits1:.2f} s of fits split perfectly over {CORES} cores, -j 2 could at best take "
        f"{serial + fits1 / CORES:.2f} s = {bound:.2f}x; -j 2 took {t2 - serial:.2f} s beyond that serial part, "
        f"so its fits ran {r['fits_speedup']:.2f}x faster than at -j 1")
    # The same bound from what -j 2 actually spent: fits sharing the cores cost more CPU than the
    # same fits one after the other, and that CPU, too, is split over the cores at best.
    c1, c2 = statistics.median(cpu1), statistics.median(cpu2)
    cpu_bound = t1 / (serial + max(c2 - serial, 0.0) / CORES)
    r.update(cpu_j1=c1, cpu_j2=c2, cpu_bound=cpu_bound)
    say(f"cpu      -j 1 used {c1:.2f} CPU s, -j 2 {c2:.2f} CPU s ({c2 / c1 - 1:+.0%}; medians): with the serial "
        f"{serial:.2f} s on one core and the rest of -j 2's CPU split perfectly over {CORES} cores, -j 2 could at best "
        f"take {serial + max(c2 - serial, 0.0) / CORES:.2f} s = {cpu_bound:.2f}x")
    say(f"speedup  mlproj run -j 1 / -j 2: {t1:.2f} s / {t2:.2f} s = {speedup:.2f}x "
        f"[target >= {TARGETS['speedup']}x on 2 cores; {CORES} cores here] {status(speedup >= TARGETS['speedup'])}")

    # 4. No-op re-run: the cache from the last -j 2 run is complete.
    noop_times = []
    wait_for_idle(IDLE_BUDGET)
    for _ in range(3):
        seconds, done = run(cli + ["run", "-j", "1"], project, env, ok=OK_RUN_CODES)
        noop_times.append(seconds)
    nothing = "Up to date" in done.stdout
    rerun_s, rerun = run(cli + ["run", "-j", "1", "--rerun"], project, env, ok=OK_RUN_CODES)
    r.update(noop_rerun=rerun_s, noop_rerun_nothing="Nothing to fit" in rerun.stdout)
    say(f"rerun    `mlproj run --rerun` (no fits; read, check, analyse and write a new run folder from the cache): "
        f"{rerun_s:.2f} s ({'no fits' if 'Nothing to fit' in rerun.stdout else 'SOMETHING WAS REFITTED'})")
    from mlproj.data.dataset import file_hash

    catalogue = project / "catalogue.csv"
    hashes = []
    for _ in range(5):
        start = time.perf_counter()
        file_hash(catalogue)
        hashes.append(time.perf_counter() - start)
    noop, hashing = statistics.median(noop_times), statistics.median(hashes)
    r.update(noop=noop, noop_hash=hashing, noop_nothing=nothing, noop_size=catalogue.stat().st_size)
    say(f"hashing  catalogue.csv ({catalogue.stat().st_size / 1e6:.1f} MB): {hashing * 1000:.1f} ms (median of 5, warm)")
    say(f"no-op    second mlproj run, nothing changed: median {noop:.2f} s of 3 "
        f"({'no fits' if nothing else 'SOMETHING WAS REFITTED'}) [target < {TARGETS['noop']} s + hashing "
        f"{hashing:.2f} s] {status(nothing and noop < TARGETS['noop'] + hashing)}")


def bench_scale(work: Path, env: dict, rows: int, timeout: float, results: dict) -> None:
    say(f"\n## 5. Scale: {rows:,} rows x 20 features")
    cli = mlproj_command()
    # The fixed footprint (interpreter and imported libraries): the same plan on 2,000 rows.
    tiny = work / "scale-tiny"
    scale_project(tiny, 2_000)
    fixed = monitored(cli + ["run", "-j", "2"], tiny, env, timeout=None)
    if fixed["returncode"] not in OK_RUN_CODES:
        raise RuntimeError(f"mlproj run failed on the tiny scale project:\n{fixed['stderr'][-3000:]}")
    say(f"memory   fixed footprint (same plan on 2,000 rows, -j 2): peak {mb(fixed['peak_pss'])} (PSS), "
        f"{fixed['wall']:.1f} s")
    results["scale_fixed"] = fixed["peak_pss"]
    project = work / f"scale-{rows}"
    made = scale_project(project, rows)
    table_bytes = rows * 20 * 8
    size = (project / "catalogue.parquet").stat().st_size
    say(f"data     simulated and written in {made:.1f} s: catalogue.parquet {size / 1e6:.0f} MB on disk; "
        f"in-memory table (rows x 20 x 8 B) {mb(table_bytes)}")
    prepared = monitored(cli + ["plan", "--json"], project, env, timeout=None)
    if prepared["returncode"] != 0:
        raise RuntimeError(f"mlproj plan failed:\n{prepared['stderr'][-3000:]}")
    keys = {t["key"]: t["model"] for t in json.loads(prepared["stdout"])["tasks"]}
    say(f"prepare  `mlproj plan` (read Parquet, hash, checks, leakage scan, plan): {prepared['wall']:.1f} s, "
        f"peak {mb(prepared['peak_pss'])} ({prepared['peak_pss'] / table_bytes:.2f}x the table)")
    results.update(scale_rows=rows, scale_table=table_bytes, scale_prepare=prepared["wall"],
                   scale_prepare_peak=prepared["peak_pss"])

    fresh(project)
    wait_for_idle(IDLE_BUDGET)
    say(f"run      mlproj run -j 2 started at {time.strftime('%H:%M:%S')} (timeout {timeout / 60:.0f} min) ...")
    outcome = monitored(cli + ["run", "-j", "2"], project, env, timeout=timeout)
    fits, counts = cached_fit_seconds(project, keys)
    done_fits = sum(counts.values())
    total_fits = len(keys) + 1
    finished = not outcome["timed_out"] and outcome["returncode"] in OK_RUN_CODES
    ratio = outcome["peak_pss"] / table_bytes
    results.update(scale_wall=outcome["wall"], scale_finished=finished, scale_timed_out=outcome["timed_out"],
                   scale_returncode=outcome["returncode"], scale_peak=outcome["peak_pss"],
                   scale_peak_rss_sum=outcome["peak_rss_sum"], scale_max_single=outcome["max_single_rss"],
                   scale_ratio=ratio, scale_fits=fits, scale_counts=counts, scale_done=done_fits,
                   scale_total=total_fits, scale_timeout=timeout)
    if outcome["timed_out"]:
        say(f"run      NOT FINISHED: stopped after {outcome['wall'] / 60:.1f} min (limit {timeout / 60:.0f} min); "
            f"{done_fits}/{total_fits} fits were done")
    elif not finished:
        say(f"run      FAILED with exit code {outcome['returncode']} after {outcome['wall']:.1f} s:\n"
            f"{outcome['stderr'][-3000:]}")
    else:
        say(f"run      mlproj run -j 2: {outcome['wall']:.1f} s ({outcome['wall'] / 60:.1f} min), "
            f"{done_fits}/{total_fits} fits, exit code {outcome['returncode']}")
    say(f"load     other processes used {outcome['other_load']:.2f} cores on average during the run")
    say("fits     fit seconds per model (mlproj's own timing, summed over finished folds): "
        + ", ".join(f"{k} {v:.1f} s / {counts[k]} fits" for k, v in fits.items()))
    breakdown = ", ".join(f"{name} {mb(pss)}" for name, pss in sorted(outcome["breakdown"], key=lambda x: -x[1]))
    say(f"memory   peak of the process tree (sum of PSS, shared pages counted once): {mb(outcome['peak_pss'])} "
        f"at {outcome['peak_at']:.0f} s [{breakdown}]; sum of RSS {mb(outcome['peak_rss_sum'])}; largest single "
        f"process {mb(outcome['max_single_rss'] or 0)}; {outcome['processes']} processes at most")
    above = (outcome['peak_pss'] - fixed['peak_pss']) / table_bytes
    say(f"memory   peak the data adds (above the fixed footprint) / in-memory table = {above:.2f} "
        f"[target <= {TARGETS['memory']}] {status(above <= TARGETS['memory'])}; in total, interpreter and libraries "
        f"included: {mb(outcome['peak_pss'])} / {mb(table_bytes)} = {ratio:.2f} {status(ratio <= TARGETS['memory'])}")
    if finished:
        noop = monitored(cli + ["run", "-j", "2"], project, env, timeout=timeout)
        from mlproj.data.dataset import file_hash

        start = time.perf_counter()
        file_hash(project / "catalogue.parquet")
        hashing = time.perf_counter() - start
        nothing = "Up to date" in noop["stdout"]
        rerun = monitored(cli + ["run", "-j", "2", "--rerun"], project, env, timeout=timeout)
        results.update(scale_rerun=rerun["wall"], scale_rerun_peak=rerun["peak_pss"])
        say(f"rerun    `mlproj run --rerun` at {rows:,} rows (read, check, analyse from the cache): {rerun['wall']:.1f} s "
            f"({'no fits' if 'Nothing to fit' in rerun['stdout'] else 'REFITTED'}); peak {mb(rerun['peak_pss'])}")
        results.update(scale_noop=noop["wall"], scale_noop_hash=hashing, scale_noop_nothing=nothing,
                       scale_noop_peak=noop["peak_pss"])
        say(f"no-op    re-run at {rows:,} rows: {noop['wall']:.1f} s ({'no fits' if nothing else 'REFITTED'}), "
            f"of which hashing {hashing:.2f} s; peak {mb(noop['peak_pss'])} "
            f"[target < {TARGETS['noop']} s + hashing] {status(nothing and noop['wall'] < TARGETS['noop'] + hashing)}")


def bench_scale_without_forest(work: Path, env: dict, rows: int, timeout: float, results: dict) -> None:
    """The scale plan without the random forest: the memory of mlproj's own handling of the data
    (the matrix, each fit's training rows, predictions) apart from the forests' trees."""
    say(f"\n## 5b. Scale without the random forest: {rows:,} rows x 20 features (dummy, logistic, HGB)")
    cli = mlproj_command()
    peaks = {}
    for name, n in (("tiny", 2_000), ("full", rows)):
        project = work / f"scale-no-forest-{name}"
        scale_project(project, n)
        config = yaml_load(project / "mlproj.yaml")
        config["baselines"] = ["dummy"]
        config["candidates"] = [{"name": "logreg", "estimator": "LogisticRegression", "params": {"max_iter": 1000},
                                 "scale": True}] + config["candidates"]
        write_config(project, config)
        wait_for_idle(IDLE_BUDGET)
        outcome = monitored(cli + ["run", "-j", "2"], project, env, timeout=timeout)
        if outcome["returncode"] not in OK_RUN_CODES or outcome["timed_out"]:
            say(f"run      FAILED or stopped ({outcome['returncode']}):\n{outcome['stderr'][-2000:]}")
            return
        peaks[name] = outcome
    table_bytes = rows * 20 * 8
    full, tiny = peaks["full"], peaks["tiny"]
    above = (full["peak_pss"] - tiny["peak_pss"]) / table_bytes
    results.update(nf_rows=rows, nf_wall=full["wall"], nf_peak=full["peak_pss"], nf_fixed=tiny["peak_pss"],
                   nf_ratio=full["peak_pss"] / table_bytes, nf_above=above)
    say(f"run      {full['wall']:.1f} s; peak {mb(full['peak_pss'])} = {full['peak_pss'] / table_bytes:.2f} x the "
        f"{mb(table_bytes)} table; fixed footprint (2,000 rows) {mb(tiny['peak_pss'])}; above it: {above:.2f} x the table "
        f"[target <= {TARGETS['memory']}] {status(above <= TARGETS['memory'])} (total: "
        f"{status(full['peak_pss'] / table_bytes <= TARGETS['memory'])})")


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


# ------------------------------------------------------------------------------ the summary


def summary_table(results: dict, args, threads: int) -> str:
    import sklearn

    lines = [
        f"Benchmarks ({date.today().isoformat()}; `python tests/benchmarks/bench.py{' --quick' if args.quick else ''}`; "
        f"{CORES} cores, {platform.machine()}, Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"OMP_NUM_THREADS={threads}):",
        "",
        *([f"Other processes used {statistics.mean(OtherLoad.history):.2f} cores on average (max "
           f"{max(OtherLoad.history):.2f}) of the {CORES} during the timed runs"
           + (" — numbers are disturbed by other work on the machine." if max(OtherLoad.history) > 0.25 else "."), ""]
          if OtherLoad.history else []),
        "| Benchmark (DESIGN §8) | Measured | Target | Status |",
        "|---|---|---|---|",
    ]
    row = lines.append
    for name, label in (("help", "`mlproj --help`"), ("schema", "`mlproj schema`"), ("verdict", "`mlproj verdict`")):
        if f"startup_{name}" in results:
            t = results[f"startup_{name}"]
            row(f"| Start-up: {label} | {t:.2f} s (median of {args.startup_runs}) | < {TARGETS['startup']} s "
                f"| {status(t < TARGETS['startup'])} |")
    for name in ("help", "schema", "verdict"):
        if f"imports_{name}" in results:
            info = results[f"imports_{name}"]
            row(f"| Heavy imports after `mlproj {'--help' if name == 'help' else name}` (in-process) | {', '.join(info['heavy']) or 'none'}"
                + (f" (also: {', '.join(info['other'])})" if info["other"] else "")
                + f" | no {'/'.join(HEAVY)} | {status(not info['heavy'])} |")
    for r in results.get("orchestration", []):  # one block of rows per size
        if "ratio" in r:
            row(f"| Orchestration overhead, `-j 1`, {r['rows']:,} rows, 4 models × 5 folds + final fit | "
                f"{r['ratio']:.2f} × ({r['j1']:.1f} s vs hand loop {r['hand']:.1f} s; median of "
                f"{r['reps']}) | ≤ {TARGETS['overhead']} × | {status(r['ratio'] <= TARGETS['overhead'])} |")
            row(f"| Speed-up `-j 2` vs `-j 1` ({CORES} cores), {r['rows']:,} rows | {r['speedup']:.2f} × ({r['j1']:.1f} s → "
                f"{r['j2']:.1f} s); at best {r['bound']:.2f} × with {r['serial']:.1f} s outside the fits, "
                f"{r['cpu_bound']:.2f} × with -j 2's own CPU time ({r['cpu_j2'] / r['cpu_j1'] - 1:+.0%}) | "
                f"≥ {TARGETS['speedup']} × | {status(r['speedup'] >= TARGETS['speedup'])} |")
        if "noop" in r:
            row(f"| No-op re-run, {r['rows']:,} rows | {r['noop']:.2f} s "
                f"({'no fits' if r['noop_nothing'] else 'refitted!'}; hashing {r['noop_hash'] * 1000:.0f} ms) | "
                f"< {TARGETS['noop']} s + hashing | {status(r['noop_nothing'] and r['noop'] < TARGETS['noop'] + r['noop_hash'])} |")
        if "noop_rerun" in r:
            row(f"| `mlproj run --rerun`, {r['rows']:,} rows (new run folder from the cache) | {r['noop_rerun']:.2f} s "
                f"({'no fits' if r['noop_rerun_nothing'] else 'refitted!'}) | — | info |")
    if "scale_rows" in results:
        r = results
        rows = f"{r['scale_rows']:,} rows × 20"
        if r["scale_finished"]:
            row(f"| Scale: {rows}, default plan, `-j 2` | completes in {r['scale_wall'] / 60:.1f} min "
                f"({r['scale_done']}/{r['scale_total']} fits) | completes | pass |")
        elif r["scale_timed_out"]:
            row(f"| Scale: {rows}, default plan, `-j 2` | not finished in {r['scale_timeout'] / 60:.0f} min "
                f"({r['scale_done']}/{r['scale_total']} fits done) | completes | **FAIL** |")
        else:
            row(f"| Scale: {rows}, default plan, `-j 2` | failed (exit {r['scale_returncode']}) | completes | **FAIL** |")
        fits = r["scale_fits"]
        if fits:
            row("| Scale: fit time per model (summed over finished fits) | "
                + ", ".join(f"{k} {v / 60:.1f} min ({r['scale_counts'][k]})" if v >= 60 else
                            f"{k} {v:.0f} s ({r['scale_counts'][k]})" for k, v in fits.items())
                + " | — | info |")
        above = (r['scale_peak'] - r['scale_fixed']) / r['scale_table']
        stopped = " (until stopped)" if r["scale_timed_out"] else ""
        row(f"| Scale: peak memory the data adds (peak − the fixed {mb(r['scale_fixed'])} of the same plan on "
            f"2,000 rows) | {above:.2f} × the {mb(r['scale_table'])} table{stopped} | ≤ {TARGETS['memory']} × | "
            f"{status(above <= TARGETS['memory'])} |")
        row(f"| Scale: peak memory of the process tree (PSS), interpreter and libraries included | "
            f"{mb(r['scale_peak'])} = {r['scale_ratio']:.2f} × the table{stopped}; the fixed part alone is "
            f"{r['scale_fixed'] / r['scale_table']:.2f} × | ≤ {TARGETS['memory']} × | "
            f"{status(r['scale_ratio'] <= TARGETS['memory'])} |")
        row(f"| Scale: preparation (`mlproj plan`: read, hash, checks, plan) | {r['scale_prepare']:.1f} s, peak "
            f"{mb(r['scale_prepare_peak'])} | — | info |")
        if "scale_noop" in r:
            ok = r["scale_noop_nothing"] and r["scale_noop"] < TARGETS["noop"] + r["scale_noop_hash"]
            row(f"| Scale: no-op re-run | {r['scale_noop']:.1f} s (hashing {r['scale_noop_hash']:.2f} s) | "
                f"< {TARGETS['noop']} s + hashing | {status(ok)} |")
        if "scale_rerun" in r:
            row(f"| Scale: `mlproj run --rerun` (new run folder from the cache) | {r['scale_rerun']:.1f} s, peak "
                f"{mb(r['scale_rerun_peak'])} | — | info |")
    if "nf_rows" in results:
        r = results
        row(f"| Scale without the random forest (dummy, logistic, HGB), {r['nf_rows']:,} rows × 20, `-j 2`: "
            f"peak memory the data adds | {r['nf_wall'] / 60:.1f} min; {r['nf_above']:.2f} × the table above the "
            f"fixed {mb(r['nf_fixed'])}; in total {mb(r['nf_peak'])} = {r['nf_ratio']:.2f} × | "
            f"≤ {TARGETS['memory']} × | {status(r['nf_above'] <= TARGETS['memory'])} (total: "
            f"{status(r['nf_ratio'] <= TARGETS['memory'])}) |")
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one timing per setting and the scale test at 100,000 rows (a few minutes)")
    parser.add_argument("--rows", type=_sizes, default=[20_000, 100_000],
                        help="rows of the orchestration projects, comma-separated (20000,100000): the speed-up "
                             "and overhead are measured at each size")
    parser.add_argument("--reps", type=int, help="timed repetitions of each run (3; --quick: 1)")
    parser.add_argument("--startup-runs", type=int, default=5, help="timed start-ups per command (5)")
    parser.add_argument("--scale-rows", type=int, help="rows of the scale test (1,000,000; --quick: 100,000)")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the scale test")
    parser.add_argument("--only-scale", action="store_true", help="run only the scale test")
    parser.add_argument("--scale-plan", choices=("default", "no-forest", "both"), default="both",
                        help="the default plan, the same plan without the random forest (memory of the data "
                             "handling apart from the trees), or both (default)")
    parser.add_argument("--scale-timeout", type=float, default=30.0, help="minutes before the scale run is stopped (30)")
    parser.add_argument("--threads", type=int, default=CORES,
                        help=f"OMP_NUM_THREADS for every run and the hand loop (default: the {CORES} cores)")
    parser.add_argument("--wait-idle", type=float,
                        help="minutes the benchmark may wait, in total, for other processes to leave the CPUs "
                             "before timed runs (10; --quick: 3)")
    parser.add_argument("--workdir", type=Path, help="where to create the temporary projects (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--json", type=Path, help="also write the raw numbers to this JSON file")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    scale_rows = args.scale_rows or (100_000 if args.quick else 1_000_000)

    IDLE_BUDGET["left"] = 60 * (args.wait_idle if args.wait_idle is not None else (3 if args.quick else 10))
    env = child_env(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for anything the benchmark itself computes
    work = Path(tempfile.mkdtemp(prefix="mlproj-bench-", dir=args.workdir))
    say(f"# mlproj benchmarks ({'quick' if args.quick else 'full'}): {CORES} cores, Python "
        f"{platform.python_version()}, OMP_NUM_THREADS={args.threads}, work folder {work}")
    results: dict = {}
    started = time.perf_counter()
    try:
        if not args.only_scale:
            bench_startup(work, env, args.startup_runs, results)
            for rows in args.rows:
                bench_orchestration(work, env, rows, reps, args.threads, results)
        if not args.skip_scale:
            if args.scale_plan in ("default", "both"):
                bench_scale(work, env, scale_rows, args.scale_timeout * 60, results)
            if args.scale_plan in ("no-forest", "both"):
                bench_scale_without_forest(work, env, scale_rows, args.scale_timeout * 60, results)
    except KeyboardInterrupt:
        say("\ninterrupted: summarising what was measured")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    say(f"\nTotal benchmark time: {(time.perf_counter() - started) / 60:.1f} min\n")
    say("## Summary (Markdown, for CHANGELOG.md)\n")
    say(summary_table(results, argparse.Namespace(**vars(args), reps_used=reps), args.threads))
    if args.json:
        results["other_load_history"] = OtherLoad.history
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
