"""The estimator names a project file may use, for the JSON Schema's enum.

`mlproj schema` must start in well under a second without scikit-learn (DESIGN §8), but listing
the allow-list from scikit-learn imports all of it (~1 s). So the names are kept here, written
from scikit-learn 1.9.1 (the version CI pins): a test compares them with the
installed allow-list (mlproj.plan.estimators.allowed_estimators) and fails when they drift. With
another scikit-learn an editor may underline a name this list lacks; `mlproj check` is the
authority and accepts every estimator the installed scikit-learn allows.
"""

from __future__ import annotations

ESTIMATOR_NAMES: dict[str, tuple[str, ...]] = {
    "classification": (
        "AdaBoostClassifier", "BaggingClassifier", "BernoulliNB", "CalibratedClassifierCV",
        "CategoricalNB", "ComplementNB", "DecisionTreeClassifier", "DummyClassifier",
        "ExtraTreeClassifier", "ExtraTreesClassifier", "GaussianNB",
        "GaussianProcessClassifier", "GradientBoostingClassifier",
        "HistGradientBoostingClassifier", "KNeighborsClassifier", "LabelPropagation",
        "LabelSpreading", "LinearDiscriminantAnalysis", "LinearSVC", "LogisticRegression",
        "LogisticRegressionCV", "MLPClassifier", "MultinomialNB", "NearestCentroid", "NuSVC",
        "PassiveAggressiveClassifier", "Perceptron", "QuadraticDiscriminantAnalysis",
        "RadiusNeighborsClassifier", "RandomForestClassifier", "RidgeClassifier",
        "RidgeClassifierCV", "SGDClassifier", "SVC", "SelfTrainingClassifier",
        "UninformativeClassifier"
    ),
    "regression": (
        "ARDRegression", "AdaBoostRegressor", "BaggingRegressor", "BayesianRidge", "CCA",
        "DecisionTreeRegressor", "DummyRegressor", "ElasticNet", "ElasticNetCV",
        "ExtraTreeRegressor", "ExtraTreesRegressor", "GammaRegressor",
        "GaussianProcessRegressor", "GradientBoostingRegressor",
        "HistGradientBoostingRegressor", "HuberRegressor", "IsotonicRegression",
        "KNeighborsRegressor", "KernelRidge", "Lars", "LarsCV", "Lasso", "LassoCV", "LassoLars",
        "LassoLarsCV", "LassoLarsIC", "LinearRegression", "LinearSVR", "MLPRegressor",
        "MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV",
        "NuSVR", "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV", "PLSCanonical",
        "PLSRegression", "PassiveAggressiveRegressor", "PoissonRegressor", "QuantileRegressor",
        "RANSACRegressor", "RadiusNeighborsRegressor", "RandomForestRegressor", "Ridge",
        "RidgeCV", "SGDRegressor", "SVR", "TheilSenRegressor", "TransformedTargetRegressor",
        "TweedieRegressor"
    ),
}
