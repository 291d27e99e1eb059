"""Feature ablations (paper §6.1, DESIGN §6): which information the models need.

Each ablation is a *feature set*: the columns of the feature matrix a model keeps, and those it
keeps with their information taken away (replaced by the training fold's mean or median). A
derived feature is computed from its columns, so it goes with them: dropping `u` also drops
`u_g = u - g` (and the non-detection indicator of `u`), or the model would still see `u` through
them. Pure: the project's `ablations:` section, the feature names and the derived expressions in;
typed feature sets out, or a ConfigError naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlproj.data.dataset import indicator
from mlproj.errors import ConfigError
from mlproj.plan.estimators import HISTORICAL
from mlproj.project.expressions import parse_expression
from mlproj.project.schema import Ablations, did_you_mean

__all__ = ["FeatureSet", "ablated_models", "resolve_feature_sets"]

Where = Callable[..., str]


@dataclass(frozen=True)
class FeatureSet:
    """One ablation: what a model sees instead of every feature."""

    name: str  # "-u", "-colours", "colours=mean", "only:basic": stable, shown in tables and keys
    kind: str  # "drop" | "group" | "replace" | "keep_only"
    columns: tuple[int, ...]  # the columns of X kept, in the feature order
    replaced: tuple[tuple[int, str], ...] = ()  # (column of X, "mean" | "median") among the kept
    removed: tuple[str, ...] = ()  # the features named by the project (dropped, or replaced)
    dependent: tuple[str, ...] = ()  # derived features (and indicators) that go with them
    description: str = ""

    @property
    def removed_features(self) -> list[str]:
        """Every feature whose information the ablation takes away, named ones first."""
        return list(self.removed) + list(self.dependent)

    def identity(self, feature_names: list[str]) -> dict:
        """What the fits of this feature set depend on, by feature name (their cache key)."""
        return {"kept": [feature_names[j] for j in self.columns],
                "replaced": {feature_names[j]: how for j, how in self.replaced}}

    def to_dict(self, feature_names: list[str]) -> dict:
        return {"name": self.name, "kind": self.kind, "removed": list(self.removed),
                "dependent": list(self.dependent), "description": self.description,
                **self.identity(feature_names)}


def _default_where(*loc: str | int) -> str:
    return ".".join(str(part) for part in loc)


def _dependencies(derived: dict[str, str]) -> dict[str, set[str]]:
    """Every column (raw or derived) each derived feature reads, directly or through others."""
    reads: dict[str, set[str]] = {}
    for name, text in derived.items():
        try:
            names = set(parse_expression(text, context=f"data.derived.{name}").names)
        except ConfigError:
            names = set()  # reported where the expression is evaluated; not an ablation's problem
        closure = set(names)
        for other in names:
            closure |= reads.get(other, set())
        reads[name] = closure
    return reads


class _Resolver:
    def __init__(self, feature_names: list[str], derived: dict[str, str], where: Where):
        self.features = list(feature_names)
        self.position = {name: j for j, name in enumerate(self.features)}
        self.derived = derived
        self.reads = _dependencies(derived)
        self.where = where
        # Catalogue columns that are no features but feed derived features may be named too.
        self.sources = sorted({c for d in self.features if d in self.reads for c in self.reads[d]} - set(self.features))

    def dependents(self, names: Iterable[str]) -> list[str]:
        """Features computed from any of `names` (derived features, non-detection indicators)."""
        names = set(names)
        out = []
        for feature in self.features:
            if feature in names:
                continue
            if names & self.reads.get(feature, set()) or any(feature == indicator(n) for n in names):
                out.append(feature)
        return out

    def check(self, names: list[str], loc: tuple, *, groups: dict[str, list[str]] | None = None) -> None:
        known = set(self.features) | set(self.sources) | set(groups or {})
        if not names:
            raise ConfigError("lists no feature", where=self.where(*loc),
                              hint=f"name features of the project ({self._shown()})")
        for name in names:
            if name not in known:
                options = list(self.features) + list(self.sources) + list(groups or {})
                raise ConfigError(
                    f"'{name}' is not a feature of the project{did_you_mean(name, options)}",
                    where=self.where(*loc),
                    hint=f"the features are {self._shown()}" + (
                        f"; groups: {', '.join(groups)}" if groups else ""))

    def _shown(self) -> str:
        shown = ", ".join(self.features[:12])
        return shown + (", ..." if len(self.features) > 12 else "")

    def drop(self, name: str, kind: str, named: list[str], loc: tuple) -> FeatureSet:
        dependent = self.dependents(named)
        gone = set(named) | set(dependent)
        kept = tuple(j for j, f in enumerate(self.features) if f not in gone)
        if not kept:
            raise ConfigError(f"ablation '{name}' removes every feature, so there is no model left to fit",
                              where=self.where(*loc), hint="drop fewer features, or use keep_only")
        description = f"without {_listing(named)}"
        if dependent:
            description += f" (and {_listing(dependent)}, derived from {'it' if len(named) == 1 else 'them'})"
        return FeatureSet(name, kind, kept, (), tuple(named), tuple(dependent), description)

    def replace(self, name: str, named: list[str], how: str) -> FeatureSet:
        dependent = self.dependents(named)
        replaced_names = [f for f in self.features if f in set(named) | set(dependent)]
        description = f"{_listing(named)} replaced by {'its' if len(named) == 1 else 'their'} training-fold {how}"
        if dependent:
            description += (f" (and {_listing(dependent)}, derived from {'it' if len(named) == 1 else 'them'}, "
                            f"by {'its' if len(dependent) == 1 else 'their'} own)")
        return FeatureSet(name, "replace", tuple(range(len(self.features))),
                          tuple((self.position[f], how) for f in replaced_names), tuple(named), tuple(dependent),
                          description)

    def keep_only(self, name: str, named: list[str], loc: tuple) -> FeatureSet:
        missing = [n for n in named if n not in self.position]
        if missing:  # a catalogue column that is no feature cannot be kept
            raise ConfigError(f"'{missing[0]}' is not a feature of the project{did_you_mean(missing[0], self.features)}",
                              where=self.where(*loc), hint=f"the features are {self._shown()}")
        kept = tuple(j for j, f in enumerate(self.features) if f in set(named))
        removed = tuple(f for f in self.features if f not in set(named))
        if not removed:
            raise ConfigError(f"ablation '{name}' keeps every feature, so it is the full model",
                              where=self.where(*loc), hint="list fewer features")
        return FeatureSet(name, "keep_only", kept, (), removed, (), f"only {_listing(named)}")


def _listing(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 6 else ", ".join(names[:6]) + f" and {len(names) - 6} more"


def resolve_feature_sets(ablations: Ablations | None, feature_names: list[str], derived: dict[str, str] | None = None,
                         *, where: Where | None = None) -> list[FeatureSet]:
    """The project's ablations as feature sets, in the order written (features, groups,
    replace, keep_only); none without an `ablations:` section.

    `where(*loc)`: the location of a field in the project file (LoadedProject.where); errors
    name e.g. `ablations.groups.colours`.
    """
    if ablations is None:
        return []
    where = where or _default_where
    resolver = _Resolver(feature_names, dict(derived or {}), where)
    out: list[FeatureSet] = []
    if ablations.features is not None:
        if ablations.features == "each":
            # Indicators of non-detections go with their column, never alone.
            indicators = {indicator(f) for f in feature_names}
            singles = [f for f in feature_names if f not in indicators]
        else:
            singles = list(ablations.features)
            resolver.check(singles, ("ablations", "features"))
        for feature in singles:
            out.append(resolver.drop(f"-{feature}", "drop", [feature], ("ablations", "features")))
    for group, members in ablations.groups.items():
        loc = ("ablations", "groups", group)
        resolver.check(list(members), loc)
        out.append(resolver.drop(f"-{group}", "group", list(members), loc))
    for target, how in ablations.replace.items():
        loc = ("ablations", "replace", target)
        if target in ablations.groups:
            members = list(ablations.groups[target])
        else:
            resolver.check([target], loc, groups=ablations.groups)
            members = [target]
        out.append(resolver.replace(f"{target}={how}", members, how))
    keep = ablations.keep_only
    if keep is not None:
        named = {"+".join(keep): list(keep)} if isinstance(keep, list) else dict(keep)
        for label, members in named.items():
            loc = ("ablations", "keep_only") if isinstance(keep, list) else ("ablations", "keep_only", label)
            resolver.check(list(members), loc)
            out.append(resolver.keep_only(f"only:{label}", list(members), loc))
    seen: dict[str, int] = {}
    for feature_set in out:
        seen[feature_set.name] = seen.get(feature_set.name, 0) + 1
    twice = [name for name, n in seen.items() if n > 1]
    if twice:
        raise ConfigError(f"the ablation '{twice[0]}' is defined twice", where=where("ablations"),
                          hint="give the group another name than the feature it would shadow")
    return out


def ablated_models(ablations: Ablations | None, models: list, *, where: Where | None = None) -> list[str]:
    """The models ablated: those listed under `ablations.models`, by default every candidate
    declared in the project (not the baselines, nor a candidate's variants)."""
    if ablations is None:
        return []
    where = where or _default_where
    candidates = [m.name for m in models if m.role == "candidate" and getattr(m, "parent", None) is None]
    if ablations.models is None:
        return candidates
    fitted = [m.name for m in models if m.estimator != HISTORICAL]
    for i, name in enumerate(ablations.models):
        if name not in fitted:
            raise ConfigError(f"'{name}' is not a model of the project{did_you_mean(name, fitted)}",
                              where=where("ablations", "models", i),
                              hint=f"the models are {', '.join(fitted)}")
    return list(dict.fromkeys(ablations.models))
