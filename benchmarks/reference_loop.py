"""A hand-written greedy decode loop, the yardstick of the profiler's compiled backend: run both on the same
model and point and report the ratio (target on a GPU: the profiler reaches >= 90 % of the loop) and the
loop's share of the measured-bandwidth roofline (target at batch 1: >= 65 % for models of 1.5B and more).

The loop: one StaticCache (reset in place before every run, so addresses and CUDA graphs stay valid), an
eager prefill, and a decode step (forward + greedy argmax) compiled with torch.compile(mode="reduce-overhead",
fullgraph=True) on CUDA ("default" on the CPU), timed with CUDA events and synchronised at the end. It is
deliberately written apart from gentrend.profiling: nothing here is shared with the code it checks except
the model loader and the inputs.

    python benchmarks/reference_loop.py --model qwen3-8b --device cuda [--batch 1 --prompt 128 --new-tokens 64]
    python benchmarks/reference_loop.py --model qwen3-0.6b --device cpu --tiny --no-compile   # quick check

Prints both decode speeds, the ratio, both rooflines; --json PATH also writes them (the GPU check reads it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from transformers import StaticCache

from gentrend.models.catalogue import load_catalogue
from gentrend.models.loading import load_model
from gentrend.models.roofline import decode_roofline_tokens_per_s, device_bandwidth
from gentrend.profiling import StaticDecoder, defaults_for, measure_point
from gentrend.profiling.measure import make_inputs

ROUNDS = 3  # loop runs and profiler measurements alternate this many times


class ReferenceDecoder:
    """Static cache + compiled decode step for one (model, batch, cache length)."""

    def __init__(self, model, cache_len: int, compile: bool = True):
        self.model = model
        self.device = next(model.parameters()).device
        self.cuda = self.device.type == "cuda"
        self.cache = StaticCache(config=model.config, max_cache_len=cache_len)
        self.step = self._step
        if compile:
            self.step = torch.compile(
                self._step, mode="reduce-overhead" if self.cuda else "default", fullgraph=True, dynamic=False
            )

    def _step(self, token, position):
        logits = self.model(
            input_ids=token, position_ids=position, past_key_values=self.cache, use_cache=True, logits_to_keep=1
        ).logits
        return logits[:, -1].argmax(-1, keepdim=True)

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, new_tokens: int) -> tuple[torch.Tensor, float]:
        """The generated tokens and the decode time per step (seconds)."""
        batch, prompt = input_ids.shape
        self.cache.reset()
        logits = self.model(input_ids=input_ids, past_key_values=self.cache, use_cache=True, logits_to_keep=1).logits
        token = logits[:, -1].argmax(-1, keepdim=True)
        position = torch.full((batch, 1), prompt, dtype=torch.long, device=self.device)
        out = [token]
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        t0 = time.perf_counter()
        for _ in range(new_tokens - 1):
            if self.cuda:
                torch.compiler.cudagraph_mark_step_begin()
            token = self.step(token, position).clone()
            position = position + 1
            out.append(token)
        if self.cuda:
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1e3
        else:
            seconds = time.perf_counter() - t0
        return torch.cat(out, dim=1), seconds / (new_tokens - 1)


def compare(
    model_id: str,
    device: str,
    dtype: str = "auto",
    batch: int = 1,
    prompt: int = 128,
    new_tokens: int = 64,
    runs: int = 10,
    tiny: bool = False,
    compile: bool = True,
) -> dict:
    """Decode tokens/s of the loop (median of `runs` after warm-up) and of the profiler at the same point."""
    catalogue = load_catalogue()
    model = catalogue.get(model_id)
    settings = defaults_for(
        device, batch_sizes=[batch], prompt_lengths=[prompt], new_tokens=new_tokens, backend="compiled", dtype=dtype
    )
    loaded = load_model(model, "synthetic", device=device, dtype=settings.dtype, tiny=tiny)
    inputs = make_inputs(loaded.model.config.vocab_size, batch, prompt, settings.seed, loaded.device)
    loop = ReferenceDecoder(loaded.model, settings.cache_len, compile=compile)
    started = time.perf_counter()
    for _ in range(3):  # compile, CUDA graph record, replay
        loop.generate(inputs["input_ids"], new_tokens)
    warmup = time.perf_counter() - started
    runner = StaticDecoder(loaded, batch, settings, compile=compile)
    steps, profiler = [], []
    for _ in range(ROUNDS):  # interleaved, so drift of the machine affects both alike
        steps += [loop.generate(inputs["input_ids"], new_tokens)[1] for _ in range(max(1, runs // ROUNDS))]
        profiler.append(measure_point(loaded, settings, batch, prompt, runner=runner)["decode_tokens_per_s"]["value"])
    loop_tps, profiler = batch / statistics.median(steps), statistics.median(profiler)
    bandwidth = device_bandwidth(loaded.device)
    context = prompt + new_tokens // 2
    roof = {
        name: decode_roofline_tokens_per_s(model, bw, batch, context, loaded.precision, tiny=tiny)
        for name, bw in (("measured", bandwidth.measured), ("datasheet", bandwidth.datasheet))
        if bw
    }
    return {
        "model": model_id,
        "device": str(loaded.device),
        "device_name": bandwidth.device_name,
        "dtype": loaded.precision,
        "batch": batch,
        "prompt": prompt,
        "new_tokens": new_tokens,
        "tiny": tiny,
        "compiled": compile,
        "loop_warmup_s": warmup,
        "loop_tokens_per_s": loop_tps,
        "profiler_tokens_per_s": profiler,
        "profiler_vs_loop": profiler / loop_tps,
        "roofline_tokens_per_s": roof,
        "loop_vs_roofline": {k: loop_tps / v for k, v in roof.items()},
        "profiler_vs_roofline": {k: profiler / v for k, v in roof.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen3-8b")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tiny", action="store_true", help="shrunken architecture (quick check of the script)")
    ap.add_argument(
        "--no-compile", action="store_true", help="eager decode step in both (checks the plumbing, not speed)"
    )
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()
    r = compare(
        args.model,
        args.device,
        args.dtype,
        args.batch,
        args.prompt,
        args.new_tokens,
        args.runs,
        args.tiny,
        not args.no_compile,
    )
    print(
        f"{r['model']}{' (tiny)' if r['tiny'] else ''}, synthetic, {r['device']} ({r['device_name']}), {r['dtype']}, "
        f"batch {r['batch']}, prompt {r['prompt']}, {r['new_tokens']} new tokens"
    )
    print(f"reference loop   {r['loop_tokens_per_s']:10.1f} tok/s  (warm-up {r['loop_warmup_s']:.0f} s)")
    print(
        f"profiler         {r['profiler_tokens_per_s']:10.1f} tok/s  = {100 * r['profiler_vs_loop']:.0f} % of the loop (target >= 90 %)"
    )
    for name, roof in r["roofline_tokens_per_s"].items():
        print(
            f"roofline ({name} bandwidth) {roof:10.1f} tok/s: loop {100 * r['loop_vs_roofline'][name]:.0f} %, "
            f"profiler {100 * r['profiler_vs_roofline'][name]:.0f} %"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
