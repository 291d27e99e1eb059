"""Run a plan's tasks: the task function, the content-addressed cache, the backends
(threads, processes, dask) and the tuning of threads per fit.
"""
