"""Catalogues to a Dataset: readers, labels from the operational class definitions, derived
features, sentinels and limits, leakage checks, and simulated catalogues.
"""
