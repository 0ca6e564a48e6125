"""What the user asked `gentrend report` for, checked before anything runs (the checks that need no model code:
a typo fails in about a second)."""

from __future__ import annotations

from dataclasses import dataclass

from gentrend.core.errors import SettingError
from gentrend.core.vocab import BACKENDS, precision_name
from gentrend.pipeline.executors import EXECUTORS

REPORT_MODES = ("synthetic", "hub")


@dataclass(frozen=True)
class EvalRequest:
    """Same-harness evaluation in a report: lm-eval `tasks` on `models` (default: every catalogue model with the
    checkpoint), weights from the hub or from `local_dir`/<model id>/ (mode "local"). num_fewshot, limit,
    batch_size, gen_kwargs and log_samples mean what lm-eval's options of the same names mean. None: the default."""

    tasks: tuple[str, ...]
    models: tuple[str, ...] | None = None
    mode: str = "hub"
    local_dir: str | None = None
    checkpoint: str = "post_trained"
    chat_template: bool = False
    thinking: bool | None = None
    num_fewshot: int | None = None
    limit: int | float | None = None
    batch_size: int | str | None = None
    gen_kwargs: str | None = None
    log_samples: bool = False
    task_dir: str | None = None
    allow_task_code: bool = False

    def __post_init__(self):
        if not self.tasks:
            raise SettingError(
                "--evaluate needs at least one task", "name lm-eval tasks or user tasks, e.g. --evaluate mmlu"
            )
        if self.mode not in ("hub", "local"):
            raise SettingError(f"unknown evaluation weights mode {self.mode!r}", "use hub, or local with --eval-dir")
        if self.mode == "local" and self.local_dir is None:
            raise SettingError(
                "--eval-mode local needs --eval-dir", "pass a folder holding one checkpoint folder per model id"
            )
        if self.mode != "local" and self.local_dir is not None:
            raise SettingError(
                f"--eval-dir is only read with --eval-mode local (the weights come from the {self.mode} here)",
                "add --eval-mode local to score the checkpoints in that folder, or drop --eval-dir",
            )


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked `gentrend report` for. None means the default."""

    profile_models: tuple[str, ...] | None = None  # None: the default choice; (): no profiling
    mode: str = "synthetic"
    device: str = "auto"
    dtype: str = "auto"
    backend: str | None = None  # None: the device's (gentrend.profiling.settings)
    batch_sizes: tuple[int, ...] | None = None
    prompt_lengths: tuple[int, ...] | None = None
    new_tokens: int | None = None
    tiny: bool = False
    force: bool = False
    evaluation: EvalRequest | None = None
    executor: str = "local"  # where the notebook jobs run: gentrend.pipeline.executors
    ray_address: str = ""  # the Ray cluster (auto, HOST:PORT, ray://HOST:10001); empty: a local Ray instance

    @property
    def local(self) -> bool:
        """Whether the jobs run on this machine, which must then have the device; on Ray, the nodes that take the
        measuring jobs are checked instead (a driver without a GPU may plan a --device cuda report)."""
        return self.executor == "local"

    def __post_init__(self):
        """The checks that need no model code run here, so a typo fails in about a second."""
        for name in ("batch_sizes", "prompt_lengths"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.executor not in EXECUTORS:
            raise SettingError(f"unknown executor {self.executor!r}", f"use one of: {', '.join(EXECUTORS)}")
        if self.ray_address and self.executor != "ray":
            raise SettingError("--ray-address is for the Ray executor", "add --executor ray, or drop --ray-address")
        if self.mode not in REPORT_MODES:
            raise SettingError(
                f"unknown weights mode {self.mode!r} for a report", f"use one of: {', '.join(REPORT_MODES)}"
            )
        if self.dtype != "auto":
            precision_name(self.dtype)
        if self.backend is not None and self.backend not in BACKENDS:
            raise SettingError(f"unknown backend {self.backend!r}", f"use one of: {', '.join(BACKENDS)}")
