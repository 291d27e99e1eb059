"""The SHA-256 a run records for each model file it writes (models/<name>.json): `load_model`
refuses any other bytes before it looks inside them."""

from __future__ import annotations

import hashlib
from unittest import mock

import numpy as np
import pytest

from mlproj.errors import RunError
from mlproj.plan.estimators import is_allowed_estimator_class
from mlproj.store import model_files
from mlproj.store.model_files import copy_model, load_model, save_model


@pytest.fixture
def copied(tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    source, target = tmp_path / "cache.skops", tmp_path / "model.skops"
    save_model(LogisticRegression().fit(X, X[:, 0] > 0), source, is_allowed_estimator_class)
    return target, copy_model(source, target, is_allowed_estimator_class)


def test_copy_model_returns_the_digest_of_what_it_wrote(copied):
    target, digest = copied
    assert digest == hashlib.sha256(target.read_bytes()).hexdigest()
    assert load_model(target, is_allowed_estimator_class, sha256=digest).predict(np.zeros((1, 3))).shape == (1,)


def test_other_bytes_are_refused_before_any_check_reads_them(copied):
    target, digest = copied
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    target.write_bytes(bytes(data))
    with mock.patch.object(model_files, "_checked", side_effect=AssertionError("the file was parsed")), \
            pytest.raises(RunError, match="SHA-256 differs") as refused:
        load_model(target, is_allowed_estimator_class, sha256=digest)
    assert str(target) in str(refused.value) and "Nothing was loaded" in str(refused.value)


def test_without_a_digest_the_type_checks_decide(copied):
    target, _ = copied
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(RunError) as refused:
        load_model(target, is_allowed_estimator_class)
    assert "SHA-256" not in str(refused.value)
