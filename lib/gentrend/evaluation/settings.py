"""Evaluation settings: one validated, frozen dataclass holding everything that decides a score.

Every field is recorded with each result (settings_json); those that decide a score form its score key.
`resolve(device)` turns the device-dependent defaults into concrete values before a run, so what is recorded is what ran.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from gentrend.core.devices import check_device_name
from gentrend.core.errors import SettingError
from gentrend.core.vocab import precision_name

EXAMPLE_TASKS = ("gentrend_example_mc", "gentrend_example_exact")
CPU_BATCH_SIZE = 8  # lm-eval's "auto" probes batches up to max_batch_size at full length: meant for GPU memory


class EvalSettingsError(SettingError):
    """Evaluation settings that cannot run (bad counts, thinking without a chat template, unknown dtype)."""


@dataclass(frozen=True)
class EvalSettings:
    """What one evaluation runs and how; passed to lm-eval's `simple_evaluate` and HFLM.

    tasks: lm-eval task, group or tag names, or user tasks found in `task_dir` (and data/tasks).
    allow_task_code: let a user task run the Python code its YAML names with `!function`, or replace a
        standard task of the same name (gentrend.evaluation.tasks); off by default.
    num_fewshot: few-shot examples per prompt; None keeps each task's default (lm-eval never overrides a
        task that fixes 0). batch_size: an integer or "auto" (lm-eval finds the largest that fits, up to
        max_batch_size; CUDA only); None: "auto" on CUDA, CPU_BATCH_SIZE on the CPU. limit: documents per
        task (an integer, or a fraction below 1); None: all. Limited runs are marked as subsets.
    chat_template: wrap prompts in the tokenizer's chat template (few-shot examples as turns when
        fewshot_as_multiturn). thinking: the template's enable_thinking switch (Qwen3, Qwen3.5); None: off
        where the template has the switch (log-likelihood tasks cannot run with thinking on), not applicable
        otherwise. With thinking on, the answer is read after think_end_token.
    gen_kwargs: generation arguments of generative tasks in lm-eval's own form, "max_gen_toks=2048,temperature=0"
        (passed to simple_evaluate, which sets them on every generate_until task; None keeps each task's); its
        max_gen_toks is the generation budget. log_samples: keep every scored document (prompt, response,
        metric) and write them as JSONL beside the results. dtype/device as in
    gentrend.models.loading ("auto": bf16 on a GPU, fp32 on the CPU). seed: python, numpy, torch and few-shot
    sampling seeds. bootstrap_iters: lm-eval's standard errors (0: none; mean metrics use the closed form,
    others resample this many times).
    """

    tasks: tuple[str, ...] = EXAMPLE_TASKS
    task_dir: str | None = None
    allow_task_code: bool = False
    num_fewshot: int | None = None
    batch_size: int | str | None = None
    max_batch_size: int = 64
    limit: int | float | None = None
    chat_template: bool = False
    fewshot_as_multiturn: bool = True
    thinking: bool | None = None
    think_end_token: str = "</think>"
    gen_kwargs: str | None = None
    log_samples: bool = False
    dtype: str = "auto"
    device: str = "auto"
    seed: int = 1234
    bootstrap_iters: int = 100000

    def __post_init__(self):
        tasks = (self.tasks,) if isinstance(self.tasks, str) else tuple(self.tasks)
        object.__setattr__(self, "tasks", tasks)
        if not tasks or not all(isinstance(t, str) and t.strip() for t in tasks):
            raise EvalSettingsError(
                f"tasks must be a non-empty list of names, got {list(tasks)}",
                'e.g. tasks=["mmlu", "gsm8k", "gentrend_example_mc"]',
            )
        if len(set(tasks)) != len(tasks):
            raise EvalSettingsError(f"tasks lists a name twice: {list(tasks)}", "list each task once")
        if self.num_fewshot is not None and (not _is_int(self.num_fewshot) or self.num_fewshot < 0):
            raise EvalSettingsError(
                f"num_fewshot must be None or an integer >= 0, got {self.num_fewshot!r}",
                "e.g. num_fewshot=5, or None for each task's default",
            )
        budget = self.generation_arguments().get("max_gen_toks")
        if budget is not None and (not _is_int(budget) or budget < 1):
            raise EvalSettingsError(
                f"max_gen_toks in gen_kwargs must be an integer >= 1, got {budget!r}",
                'e.g. gen_kwargs="max_gen_toks=2048"',
            )
        if not (
            self.batch_size is None or self.batch_size == "auto" or (_is_int(self.batch_size) and self.batch_size >= 1)
        ):
            raise EvalSettingsError(
                f"batch_size must be a positive integer, 'auto' or None, got {self.batch_size!r}",
                "e.g. batch_size=8, or 'auto' on a GPU",
            )
        if not _is_int(self.max_batch_size) or self.max_batch_size < 1:
            raise EvalSettingsError(
                f"max_batch_size must be a positive integer, got {self.max_batch_size!r}", "e.g. 64"
            )
        if self.limit is not None:
            fraction = isinstance(self.limit, float) and 0 < self.limit < 1
            if not (fraction or (_is_int(self.limit) and self.limit >= 1)):
                raise EvalSettingsError(
                    f"limit must be None, an integer >= 1 or a fraction in (0, 1), got {self.limit!r}",
                    "e.g. limit=100 documents per task for a quick run",
                )
        if self.thinking and not self.chat_template:
            raise EvalSettingsError(
                "thinking=True needs chat_template=True",
                "thinking is a switch of the chat template: set chat_template=True (post-trained checkpoint)",
            )
        if self.dtype != "auto":
            try:
                precision_name(self.dtype)
            except SettingError as e:
                raise EvalSettingsError(e.problem, e.fix) from None
        try:
            check_device_name(self.device)
        except SettingError as e:
            raise EvalSettingsError(e.problem, e.fix) from None
        if self.batch_size == "auto" and self.device == "cpu":
            raise EvalSettingsError(
                "batch_size='auto' probes GPU memory and is not used on the CPU",
                f"give a number on the CPU (e.g. {CPU_BATCH_SIZE}), or leave it None",
            )

    def generation_arguments(self) -> dict:
        """gen_kwargs as a dict, typed as lm-eval types them ("2048" -> 2048, "0.7" -> 0.7, "false" -> False)."""
        pairs = [p.strip() for p in str(self.gen_kwargs or "").split(",") if p.strip()]
        if any("=" not in p or not p.split("=", 1)[0].strip() for p in pairs):
            raise EvalSettingsError(
                f"cannot read gen_kwargs {self.gen_kwargs!r}: expected name=value pairs separated by commas",
                'e.g. gen_kwargs="max_gen_toks=2048,temperature=0" (lm-eval\'s --gen_kwargs form)',
            )
        from lm_eval.utils import simple_parse_args_string  # lm-eval's own reading of --gen_kwargs

        return simple_parse_args_string(",".join(pairs))

    @property
    def max_gen_toks(self) -> int | None:
        """The generation budget gen_kwargs sets, or None (each task's)."""
        return self.generation_arguments().get("max_gen_toks")

    def resolve(self, device: str) -> EvalSettings:
        """Concrete device (e.g. 'cuda:0') and batch size, as recorded with the results."""
        batch = (
            self.batch_size
            if self.batch_size is not None
            else ("auto" if device.startswith("cuda") else CPU_BATCH_SIZE)
        )
        return dataclasses.replace(self, device=device, batch_size=batch)

    def for_task(self) -> dict:
        """The fields that decide one task's score (the score key part; the task list is not one of them, nor is
        keeping the samples or allowing task code)."""
        return {
            k: v for k, v in self.as_dict().items() if k not in ("tasks", "task_dir", "log_samples", "allow_task_code")
        }

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.for_task(), sort_keys=True)

    def replace(self, **changes) -> EvalSettings:
        return dataclasses.replace(self, **changes)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
