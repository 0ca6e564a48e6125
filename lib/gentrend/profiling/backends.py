"""The two profiling backends, each a callable `run(inputs) -> (TTFT s, end-to-end s, tokens generated)`.

- compiled (`StaticDecoder`, the default on CUDA): one per (model, batch size). A StaticCache of
  `settings.cache_len` positions is made once and reset in place before every run, so tensor addresses (and
  the CUDA graphs recorded on them) stay valid and no prompt length of the sweep recompiles. The prefill is
  eager (any prompt length, never compiled); the single-token decode step (forward + greedy argmax) is
  torch.compile'd once: mode "reduce-overhead" (CUDA graphs) on a GPU, "default" on the CPU. The loop keeps
  tokens on the device and synchronises only after the prefill and at the end, so Python never waits for the
  GPU. If compiling fails, or dynamo would silently fall back to eager (recompile limit), the decoder switches
  to the eager step and says so in `fallback`, which goes on every row it measures.
- eager (`GenerateRunner`, "transformers eager"): generate() as users call it (dynamic cache, no compile); a
  streamer stamps the clock when the first generated token is handed over.

`attention_kernels(run)` runs once under torch.profiler and names the SDPA implementation that ran (flash,
efficient, cudnn, math): the aten op the dispatcher chose, or on a GPU the kernel's name.

`compile_counters()` reads dynamo's global counters (graphs compiled, graph breaks, compile seconds, CUDA graphs
skipped); the profiler takes their differences around warm-up and measured runs.
"""

from __future__ import annotations

import contextlib
import os
import time

import torch
from transformers.generation.streamers import BaseStreamer

from gentrend.models.loading import LoadedModel
from gentrend.profiling.settings import ProfileSettings


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compile_counters() -> dict[str, float]:
    """Dynamo's process-wide counters: graphs compiled (first compiles and recompiles), graph breaks, seconds
    spent compiling (dynamo + AOT + inductor), CUDA graphs skipped by inductor, inductor's FX graph cache hits and
    misses (a hit: the compiled graph came from the on-disk compile cache)."""
    import torch._dynamo.utils as du

    return {
        "graphs": du.counters["stats"]["unique_graphs"],
        "graph_breaks": sum(du.counters["graph_break"].values()),
        "compile_s": du.calculate_time_spent().get("entire_frame_compile", 0.0),
        "cudagraph_skips": du.counters["inductor"]["cudagraph_skips"],
        "cache_hits": du.counters["inductor"]["fxgraph_cache_hit"],
        "cache_misses": du.counters["inductor"]["fxgraph_cache_miss"],
    }


def counter_delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


# profiler event names (aten ops, CUDA kernels) -> SDPA implementation
_SDPA_NAMES = (
    ("flash", ("_scaled_dot_product_flash", "flash_fwd")),
    ("efficient", ("_scaled_dot_product_efficient", "_efficient_attention", "fmha_cutlass")),
    ("cudnn", ("_scaled_dot_product_cudnn", "cudnn_sdpa", "cudnn_generated_fort_native_sdpa")),
    ("math", ("_scaled_dot_product_attention_math",)),
)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Kineto (the profiler's C++ side) prints a line at every start and stop straight to file descriptor 2, which
    in a notebook kernel is the terminal of `gentrend report`: send it to /dev/null meanwhile."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def attention_kernels(run) -> str:
    """Run `run()` once under torch.profiler; the SDPA implementations seen, e.g. "efficient", or "not observed"
    (attention compiled into inductor's own kernels, or hidden inside a CUDA graph replay)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with _quiet_native_stderr(), profile(activities=activities) as prof:
        run()
    names = {e.name for e in prof.events()}
    seen = [label for label, keys in _SDPA_NAMES if any(k in n for n in names for k in keys)]
    return ", ".join(seen) or "not observed"


class _CompileFailed(Exception):
    """The compiled decode step failed and was replaced by the eager one: redo the run."""


class StaticDecoder:
    """The compiled backend for one (model, batch size); see the module docstring."""

    backend = "compiled"

    def __init__(self, loaded: LoadedModel, batch: int, settings: ProfileSettings, compile: bool = True):
        from transformers import StaticCache

        self.loaded, self.batch, self.new_tokens = loaded, batch, settings.new_tokens
        self.cache_len = settings.cache_len
        self.cache = StaticCache(config=loaded.model.config, max_cache_len=self.cache_len)
        self.cuda = loaded.device.type == "cuda"
        self.fallback, self.sdpa, self.baseline = "", None, None
        self.step = self._step
        if compile:
            # past the recompile limit dynamo would run the step eagerly without a word: make that an error,
            # which the decoder turns into a recorded fallback
            torch._dynamo.config.fail_on_recompile_limit_hit = True
            self.step = torch.compile(self._step, mode="reduce-overhead" if self.cuda else "default", dynamic=False)

    def _step(self, token: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        logits = self.loaded.model(
            input_ids=token, position_ids=position, past_key_values=self.cache, use_cache=True, logits_to_keep=1
        ).logits
        return logits[:, -1].argmax(-1, keepdim=True)

    def _generate(self, input_ids: torch.Tensor) -> tuple[float, float, int]:
        device, model = self.loaded.device, self.loaded.model
        batch, prompt = input_ids.shape
        if prompt + self.new_tokens > self.cache_len:
            raise ValueError(
                f"prompt {prompt} + {self.new_tokens} new tokens exceed the static cache ({self.cache_len})"
            )
        with torch.inference_mode():
            self.cache.reset()  # in place: same addresses as the last run
            sync(device)
            start = time.perf_counter()
            logits = model(input_ids=input_ids, past_key_values=self.cache, use_cache=True, logits_to_keep=1).logits
            token = logits[:, -1].argmax(-1, keepdim=True)
            sync(device)
            first = time.perf_counter()
            position = torch.full((batch, 1), prompt, dtype=torch.long, device=device)
            for _ in range(self.new_tokens - 1):
                if self.cuda:
                    torch.compiler.cudagraph_mark_step_begin()
                token = self._decode(token, position).clone()  # a CUDA graph's output is overwritten by its next replay
                position = position + 1
            sync(device)
        return first - start, time.perf_counter() - start, self.new_tokens

    def _decode(self, token: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """One decode step; a compiled step that fails (not for memory) is replaced by the eager one, for good."""
        try:
            return self.step(token, position)
        except torch.OutOfMemoryError:
            raise
        except Exception as e:
            if self.step == self._step:
                raise
            message = str(e).splitlines()[0] if str(e) else ""
            self.fallback = f"eager decode step: torch.compile failed ({type(e).__name__}: {message})"[:300]
            self.step = self._step
            raise _CompileFailed from e

    def __call__(self, inputs: dict) -> tuple[float, float, int]:
        try:
            return self._generate(inputs["input_ids"])
        except _CompileFailed:  # the run is redone from the prompt, eagerly
            return self._generate(inputs["input_ids"])


class _TokenClock(BaseStreamer):
    """Records perf_counter() at each put(): first the prompt, then one call per generated token."""

    def __init__(self):
        self.times: list[float] = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


class GenerateRunner:
    """The "transformers eager" reference: generate() with its dynamic cache, greedy, exactly new_tokens tokens.
    TTFT: when generate() hands over the first generated token (on CUDA that copy synchronises)."""

    backend = "eager"
    fallback = ""
    sdpa = baseline = None

    def __init__(self, loaded: LoadedModel, settings: ProfileSettings):
        self.loaded = loaded
        cfg = loaded.model.config
        eos = getattr(cfg, "eos_token_id", None)
        pad = getattr(cfg, "pad_token_id", None)
        if pad is None:
            pad = (eos[0] if isinstance(eos, list) else eos) or 0
        self.kwargs = dict(
            max_new_tokens=settings.new_tokens,
            min_new_tokens=settings.new_tokens,
            do_sample=False,
            pad_token_id=pad,
            use_cache=True,
            temperature=None,
            top_p=None,
            top_k=None,
        )

    def __call__(self, inputs: dict) -> tuple[float, float, int]:
        clock = _TokenClock()
        sync(self.loaded.device)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.loaded.model.generate(**inputs, streamer=clock, **self.kwargs)
        sync(self.loaded.device)
        end = time.perf_counter()
        return clock.times[1] - start, end - start, out.shape[1] - inputs["input_ids"].shape[1]


def make_runner(loaded: LoadedModel, settings: ProfileSettings, batch: int):
    """The backend's runner for one batch size (the compiled one holds that batch's cache and graph)."""
    if settings.backend == "compiled":
        return StaticDecoder(loaded, batch, settings)
    return GenerateRunner(loaded, settings)
