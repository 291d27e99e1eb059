"""Reading mlproj.yaml: safe YAML with the line of every field, validation against the schema,
and messages that name the file, the line and the field, and say what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlproj.errors import ConfigError
from mlproj.project.rules import check_consistency
from mlproj.project.schema import Project, allowed_keys, did_you_mean
from mlproj.store.files import file_kind, path_problem, read_bounded

DEFAULT_CONFIG = "mlproj.yaml"
# A bound on YAML nodes (counting every alias expansion) so that "billion laughs" files are
# rejected before anything walks them.
MAX_YAML_NODES = 100_000
MAX_YAML_BYTES = 5_000_000


@dataclass(frozen=True)
class LoadedProject:
    """A validated project and where it came from (for messages and relative paths)."""

    project: Project
    path: Path
    lines: dict[tuple, int] = field(default_factory=dict, compare=False)
    # SHA-256 of the file's bytes: an unchanged file needs no parsing to prove an old run current.
    source_sha256: str = field(default="", compare=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    def where(self, *loc: str | int) -> str:
        """`file:line (field)` for a location in the project file."""
        return _where(self.path, self.lines, tuple(loc))

    def resolve(self, relative: str) -> Path:
        """The absolute path; a symlink loop or an over-long name is left for the reader to report."""
        try:
            return (self.root / relative).resolve()
        except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop (Python < 3.13)
            return Path(os.path.abspath(self.root / relative))

    @property
    def config_hash(self) -> str:
        return config_hash(self.project)


def config_hash(project: Project) -> str:
    """Hash of the resolved configuration: comment and formatting edits do not change it, nor do the
    report settings (they change no number: a run stays up to date when only they change)."""
    resolved = project.model_dump(mode="json", exclude={"report"})
    _drop_unset_later_keys(resolved, project)
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Keys added to the project file after its hash was first defined: left out while they hold their
# defaults, so that a project file which does not use them keeps its hash (its runs stay up to date).
_LATER_PROJECT_KEYS = ("allow_imports", "ablations", "harness", "interrogate", "shift")
_LATER_CANDIDATE_KEYS = ("variants", "search", "search_folds", "search_iterations", "steps")
_LATER_DATA_KEYS_SHIFT = ("application",)
_LATER_DATA_KEYS_CATALOGUE = ("hdu", "test_path")


def _drop_unset_later_keys(resolved: dict, project: Project) -> None:
    def drop(values: dict, model, keys: tuple[str, ...]) -> None:
        fields = type(model).model_fields
        for key in keys:
            if key in values and key in fields:
                if values[key] == _default_of(fields[key]):
                    del values[key]

    drop(resolved, project, _LATER_PROJECT_KEYS)
    if isinstance(resolved.get("data"), dict):
        drop(resolved["data"], project.data, _LATER_DATA_KEYS_SHIFT)
        drop(resolved["data"], project.data, _LATER_DATA_KEYS_CATALOGUE)
    for values, candidate in zip(resolved.get("candidates") or [], project.candidates):
        drop(values, candidate, _LATER_CANDIDATE_KEYS)


def _default_of(field) -> object:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        return field.default_factory()
    return None if field.default is PydanticUndefined else field.default


def load_project(path: str | Path) -> LoadedProject:
    path = Path(path)
    # Stat before opening: a FIFO would block the open, /dev/zero would be read without end.
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(
            f"project file {path} does not exist",
            hint="run the command in the project folder, pass -c PATH, or create one with `mlproj init`",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read project file {path}: {path_problem(exc)}",
                          hint="pass the path of the mlproj.yaml file itself with -c") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path} is a folder, not a project file", hint="pass the mlproj.yaml inside it with -c")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"project file {path} is not a regular file but {file_kind(info.st_mode)}",
                          hint="pass the mlproj.yaml file itself with -c; mlproj reads no pipes or devices")
    try:
        raw = read_bounded(path, MAX_YAML_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read project file {path}: {path_problem(exc)}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"project file {path} is larger than {MAX_YAML_BYTES // 1_000_000} MB", hint="a project file is a short YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8") from None
    return parse_project(text, path, source_sha256=hashlib.sha256(raw).hexdigest())


def parse_project(text: str, path: Path, source_sha256: str = "") -> LoadedProject:
    data, lines = _parse_yaml(text, path)
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, path, lines) from None
    loaded = LoadedProject(project=project, path=path.resolve(), lines=lines, source_sha256=source_sha256)
    check_consistency(loaded)
    return loaded



def _parse_yaml(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    if "\x00" in text:  # YAML's reader would say "ReaderError", with no line
        raise _unreadable_character(text, text.index("\x00"), 0, path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\x00")
        position = exc.position if 0 <= exc.position < len(text) and ord(text[exc.position]) == code \
            else text.find(chr(code))
        raise _unreadable_character(text, max(position, 0), code, path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"YAML syntax error: {exc.problem}" + (f" ({exc.context})" if exc.context else ""),
            where=f"{path}{line}",
            hint="check indentation and quoting there; expressions with ':' or '#' need quotes",
        ) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"the file cannot be read as YAML ({type(exc).__name__})", where=str(path)) from None
    if root is None:
        raise ConfigError("the project file is empty", where=str(path), hint="start from `mlproj init`")
    lines: dict[tuple, int] = {}
    data = _construct(root, (), lines, path, [0])
    if not isinstance(data, dict):
        raise ConfigError(
            "the project file must be a mapping of sections (name:, objective:, data:, ...)",
            where=f"{path}:{root.start_mark.line + 1}",
        )
    return data, lines


def _unreadable_character(text: str, position: int, code: int, path: Path) -> ConfigError:
    """A character YAML does not allow (NUL, other control characters), named with its line and column."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    if code == 0:
        return ConfigError(f"the file contains a NUL byte (line {line}, column {column}): it is not a text file, "
                           "or it was damaged", where=f"{path}:{line}",
                           hint="open it in a text editor and remove the character, or recreate it with `mlproj init`")
    return ConfigError(f"the file contains the control character U+{code:04X} (line {line}, column {column}), "
                       "which YAML does not allow", where=f"{path}:{line}",
                       hint="remove the character; in a quoted \"text\" write it as an escape such as \\t")


def _construct(node, loc: tuple, lines: dict, path: Path, count: list[int]) -> Any:
    """Build plain Python values from YAML nodes, recording the line of every field."""
    count[0] += 1
    if count[0] > MAX_YAML_NODES or len(loc) > 50:
        raise ConfigError(
            "the YAML document is too large or too deeply nested (aliases expand to more than "
            f"{MAX_YAML_NODES} values)",
            where=str(path),
            hint="a project file needs no anchors or aliases; write the values out",
        )
    lines.setdefault(loc, node.start_mark.line + 1)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
        raise _tag_error(node, path)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError("keys must be plain names", where=f"{path}:{key_node.start_mark.line + 1}")
            key = _scalar(key_node, path)
            if isinstance(key, str) and "\x00" in key:
                raise ConfigError("a key contains a NUL character (\\0)", where=f"{path}:{key_node.start_mark.line + 1}",
                                  hint="remove the \\0 escape from the key")
            if key == "<<":
                raise ConfigError("YAML merge keys ('<<') are not supported", where=f"{path}:{key_node.start_mark.line + 1}")
            if not isinstance(key, (str, int, float, bool)):
                key = str(key)
            if key in result:
                raise ConfigError(
                    f"key '{key}' appears twice in the same section",
                    where=f"{path}:{key_node.start_mark.line + 1}",
                    hint="YAML would silently keep only the last one; remove one of them",
                )
            lines[loc + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, loc + (key,), lines, path, count)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loc + (i,), lines, path, count) for i, item in enumerate(node.value)]
    value = _scalar(node, path)
    if isinstance(value, str) and "\x00" in value:  # written as the escape "\0" in a quoted text
        raise ConfigError("the value contains a NUL character (\\0)",
                          where=_where(path, lines, loc),
                          hint="no name, path or expression can contain it; remove the \\0 escape")
    return value


_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")
_PLAIN_TAGS = {f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _scalar(node, path: Path) -> Any:
    if node.tag not in _PLAIN_TAGS:
        raise _tag_error(node, path)
    try:
        return _SCALAR_CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid value ({exc})", where=f"{path}:{node.start_mark.line + 1}") from None


def _tag_error(node, path: Path) -> ConfigError:
    return ConfigError(
        f"YAML tag '{node.tag}' is not allowed",
        where=f"{path}:{node.start_mark.line + 1}",
        hint="project files hold plain values: text, numbers, lists and mappings",
    )



def _where(path: Path, lines: dict[tuple, int], loc: tuple) -> str:
    probe = loc
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    dotted = _dotted(loc)
    return f"{path}:{line} ({dotted})" if line and dotted else (f"{path}:{line}" if line else str(path))


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out



def _config_error(exc: ValidationError, path: Path, lines: dict[tuple, int]) -> ConfigError:
    messages = []
    for error in exc.errors()[:5]:
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part in _UNION_TAGS))
        if error["type"] == "extra_forbidden":
            key = loc[-1]
            allowed = allowed_keys(loc[:-1])
            text = f"unknown key '{key}'" + (f" in {_dotted(loc[:-1])}" if loc[:-1] else "")
            text += did_you_mean(key, allowed)
            if allowed:
                text += f" (allowed: {', '.join(allowed)})"
        elif error["type"] == "missing":
            text = f"required field '{_dotted(loc)}' is missing"
            loc = loc[:-1]
        else:
            msg = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {_short(repr(got))})"
            text = f"{_dotted(loc) or 'project'}: {msg}{shown}"
        messages.append(f"{_where(path, lines, loc)}: {text}")
    more = len(exc.errors()) - len(messages)
    if more > 0:
        messages.append(f"and {more} more")
    return ConfigError(
        "invalid project file: " + "; ".join(messages),
        hint="`mlproj schema` prints every allowed field with its description",
    )


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit - 25]}... ({len(text)} characters)"


# pydantic inserts the union member's tag ("list[str]", "FeatureExclusion") into error locations.
_UNION_TAGS = {"list[str]", "FeatureExclusion", "str", "function-before[_flatten(), MetricSpec]"}
