"""Task names to lm-eval tasks: standard lm-eval tasks by name, and user tasks from a folder.

Standard names (tasks, groups, tags) are checked against lm-eval's own TaskManager index, which reads the
YAML files shipped inside the lm-eval package (no download); an unknown name fails with the closest
matches. User tasks are lm-eval task YAML files in data/tasks/ (the shipped examples) and in the folder
the user names. Their `dataset_kwargs.data_files` paths are resolved relative to the YAML file here (lm-eval
would resolve them against the working directory) and the resolved config is handed to lm-eval as an inline
task. lm-eval does all the scoring. Task names follow the safe-name rule of gentrend.core.limits (they become
part of file names).

Code from task YAML runs only when asked. A `!function` tag in a task YAML names Python code that lm-eval
imports and runs. Resolving or validating tasks never imports it (the YAML is read with the references left
as text); a user task that carries `!function`, or that takes a standard task's name (shadowing it), is
refused unless the caller passes allow_code=True (`gentrend report --allow-task-code`), and the code is
imported only when the task is built to run.

Versions: a standard task is identified by its name, its `metadata.version` and the lm-eval version (the
configs ship with the package); a user task by its version and a hash of its fully included config and
data files, so editing either invalidates cached results.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gentrend.core import paths
from gentrend.core.errors import GentrendError
from gentrend.core.files import read_data
from gentrend.core.limits import SAFE_NAME_RULE, is_safe_name
from gentrend.core.text import shorten


class TaskError(GentrendError):
    """A task name that lm-eval does not know, or a user task that cannot be built."""


class DatasetUnavailableError(GentrendError):
    """A task's dataset is neither in the local cache nor downloadable (offline)."""


@dataclass(frozen=True)
class TaskSpec:
    """One requested task. `lm_eval_spec` is what TaskManager.load takes: a name, or an inline config."""

    name: str
    kind: str  # "standard" | "user"
    source: str  # the YAML file (user) or "lm-eval" (standard)
    version: str
    content_hash: str = ""
    config: dict | None = field(default=None, compare=False, hash=False)
    runs_code: bool = False  # a user task with `!function`: its code is imported when the task is built

    @property
    def lm_eval_spec(self) -> str | dict:
        if self.runs_code:  # only now, to run it: resolving the references imports the task's code
            return _user_config(self.name, Path(self.source), resolve_func=True)
        return self.config if self.config is not None else self.name


@lru_cache(maxsize=1)
def standard_manager():
    """lm-eval's index of its built-in tasks (about 15,000 names; built once per process, a few seconds)."""
    from lm_eval.tasks import TaskManager

    return TaskManager()


def task_dirs(task_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for user tasks: the shipped examples, then the user's folder (None: none), which wins."""
    dirs = [paths.data_file("tasks")]
    if task_dir is not None:
        folder = Path(task_dir).expanduser().resolve()
        if not str(task_dir).strip() or not folder.is_dir():
            raise TaskError(
                f"task_dir {str(task_dir)!r} is not a folder",
                "point task_dir at the folder holding your task YAML and JSONL files (see data/tasks/README.md)",
            )
        dirs.append(folder)
    return dirs


def check_task_name(name: str) -> str:
    if not is_safe_name(str(name)):
        raise TaskError(f"invalid task name {shorten(str(name))}", f"a task name is {SAFE_NAME_RULE}")
    return name


def uses_code(yaml_path: Path) -> bool:
    """Whether a task YAML (or a file it includes) names Python code with `!function` (read as text only)."""
    text = read_data(yaml_path, "task YAML")
    if re.search(r"!function\b", text):
        return True
    included = re.findall(r"^include:\s*['\"]?([^'\"\s#]+)", text, re.M)
    return any(uses_code(yaml_path.parent / name) for name in included if (yaml_path.parent / name).is_file())


def resolve_tasks(names, task_dir: str | Path | None = None, allow_code: bool = False) -> list[TaskSpec]:
    """A TaskSpec per name, user tasks first; unknown names fail listing close matches. A user task that runs
    code (`!function`) or shadows a standard task is refused unless allow_code (see the module docstring)."""
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._index import Kind

    for name in names:
        check_task_name(name)
    user_index = TaskManager(include_path=[str(d) for d in task_dirs(task_dir)], include_defaults=False).task_index
    specs = []
    for name in names:
        entry = user_index.get(name)
        if entry is not None:
            if entry.kind != Kind.TASK:
                raise TaskError(
                    f"user task {name!r} ({entry.yaml_path}) is a {entry.kind.name.lower()}, not a task",
                    "list the tasks themselves in `tasks`; user groups and tags are not supported",
                )
            spec = _user_spec(name, Path(entry.yaml_path))
            if not allow_code and spec.runs_code:
                raise TaskError(
                    f"user task {name!r} ({entry.yaml_path}) runs Python code named by `!function` in its YAML",
                    "read that code; if you trust it, pass --allow-task-code (it runs with your permissions)",
                )
            if not allow_code and name in standard_manager().task_index:
                raise TaskError(
                    f"user task {name!r} ({entry.yaml_path}) takes the name of a standard lm-eval task",
                    "rename the user task (its `task:` field), or pass --allow-task-code to let it replace the "
                    "standard one",
                )
            specs.append(spec)
            continue
        manager = standard_manager()
        entry = manager.task_index.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, manager.all_tasks + list(user_index), n=5, cutoff=0.6)
            raise TaskError(
                f"unknown task {name!r}" + (f"; close matches: {', '.join(close)}" if close else ""),
                "use an lm-eval task name (`lm-eval ls tasks` lists them), or put a user task YAML with "
                f"`task: {name}` into task_dir (see data/tasks/README.md)",
            )
        specs.append(TaskSpec(name, "standard", "lm-eval", _version(_raw_config(entry.yaml_path))))
    return specs


def _raw_config(yaml_path) -> dict:
    """The task's YAML with includes merged and !function references left as text (nothing imported)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(yaml_path, resolve_func=False) if yaml_path else {}


def _version(config: dict) -> str:
    metadata = config.get("metadata")
    return str(metadata.get("version", "")) if isinstance(metadata, dict) else ""


def _resolve_files(value, folder: Path, task: str):
    """data_files (a path, a list, or a split -> path(s) mapping) with relative paths made absolute."""
    if isinstance(value, dict):
        return {k: _resolve_files(v, folder, task) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_files(v, folder, task) for v in value]
    if "://" in str(value):
        return str(value)
    path = Path(value).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.exists():
        raise TaskError(
            f"user task {task!r}: data file not found: {path}",
            "data_files paths are relative to the task's YAML file; fix the path or add the file",
        )
    return str(path)


def _files(value) -> list[str]:
    if isinstance(value, dict):
        return [f for v in value.values() for f in _files(v)]
    if isinstance(value, list):
        return [f for v in value for f in _files(v)]
    return [value]


def _user_config(name: str, yaml_path: Path, resolve_func: bool) -> dict:
    """The task's config with data_files made absolute; `!function` references imported only when resolve_func."""
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(yaml_path, resolve_func=resolve_func)
    kwargs = dict(config.get("dataset_kwargs") or {})
    if "data_files" in kwargs:
        kwargs["data_files"] = _resolve_files(kwargs["data_files"], yaml_path.parent, name)
        config["dataset_kwargs"] = kwargs
    return config


def _user_spec(name: str, yaml_path: Path) -> TaskSpec:
    config = _user_config(name, yaml_path, resolve_func=False)
    digest = hashlib.sha256(json.dumps(_raw_config(yaml_path), sort_keys=True, default=str).encode())
    if "data_files" in config.get("dataset_kwargs", {}):
        for file in sorted(_files(config["dataset_kwargs"]["data_files"])):
            if "://" not in file:
                digest.update(Path(file).read_bytes())
    return TaskSpec(
        name, "user", str(yaml_path), _version(config), digest.hexdigest()[:16], config, uses_code(yaml_path)
    )


def load_task(spec: TaskSpec):
    """Build the lm-eval Task (or Group) of `spec`, loading its dataset. Returns TaskManager.load's dict.

    A dataset that cannot be fetched (offline, or not on the hub) raises DatasetUnavailableError saying what
    to download and how; a task that runs model-written code (HumanEval, MBPP) is refused."""
    manager = standard_manager() if spec.kind == "standard" else inline_manager()
    try:
        loaded = manager.load([spec.lm_eval_spec])
    except OSError as e:  # datasets / huggingface_hub raise OSError subclasses when a file cannot be had
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetUnavailableError(
            f"task {spec.name!r}: its dataset is not available here: {first}",
            "run the evaluation once with network access so the `datasets` library caches it (HF_HUB_OFFLINE "
            "unset), or point HF_HOME / HF_DATASETS_CACHE at a cache that has it; the task's YAML names the "
            "dataset (dataset_path, dataset_name)"
            + (
                f": {spec.source}"
                if spec.kind == "user"
                else f"; `lm-eval ls tasks` shows where {spec.name}'s YAML lives"
            ),
        ) from None
    except Exception as e:
        raise TaskError(
            f"task {spec.name!r} could not be built by lm-eval: {type(e).__name__}: {shorten(str(e), 200)}",
            f"check its YAML against lm-eval's task guide (docs/task_guide.md); source: {spec.source}",
        ) from None
    unsafe = sorted(name for name, task in loaded["tasks"].items() if getattr(task, "UNSAFE_CODE", False))
    if unsafe:
        raise TaskError(
            f"task {spec.name!r} executes code the model writes ({', '.join(unsafe)})",
            "gentrend does not switch on lm-eval's confirm_run_unsafe_code; run such tasks with lm-eval "
            "itself, in a sandbox",
        )
    return loaded


@lru_cache(maxsize=1)
def inline_manager():
    """A TaskManager without the built-in index: enough to build inline (user) task configs, instantly."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False)
