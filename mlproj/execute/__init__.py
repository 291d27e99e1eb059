"""Run a plan's tasks (DESIGN §1: Plan ──execute──▶ Predictions).

- `tasks`: the task function, one `FitCall` → one `TaskOutput`;
- `cache`: the content-addressed cache the outputs are kept in;
- `backends`: `run_tasks`, the cache hits first, then worker threads, processes or dask;
- `threads`: the cores `-j` grants, thread limits per fit, the one OpenMP thread;
- `forests`, `boosting`: forests and gradient boosting fitted on large tables with less memory.
"""
