"""Compile a project into a run plan (pure): splits, the estimator registry with its
simplicity ranks, cases and content-hashed tasks.
"""
