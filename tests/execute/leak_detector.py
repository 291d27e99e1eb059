"""A classifier that records the rows it is fitted on and scores (its feature 0 is the row index):
a leak detector for nested searches. Imported by tests through allow_imports."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

LOG: list[tuple[str, int, frozenset[int]]] = []  # (fit | predict, id of the fitted object, rows)


class RowRecorder(ClassifierMixin, BaseEstimator):
    """Logistic in feature 1 with slope `strength`, recording every fit and prediction."""

    def __init__(self, strength: float = 1.0):
        self.strength = strength

    def fit(self, X, y):
        X = np.asarray(X)
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        self.rows_ = np.sort(X[:, 0].astype(np.int64))
        LOG.append(("fit", id(self), frozenset(self.rows_.tolist())))
        return self

    def predict_proba(self, X):
        X = np.asarray(X)
        LOG.append(("predict", id(self), frozenset(X[:, 0].astype(int).tolist())))
        p = 1.0 / (1.0 + np.exp(-self.strength * X[:, 1]))
        return np.c_[1.0 - p, p]

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]
