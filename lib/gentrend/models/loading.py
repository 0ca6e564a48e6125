"""Load a catalogue model in one of three modes.

- hub: `from_pretrained(repo_id)` with accelerate's device_map (weights from the Hugging Face hub or its cache).
- local: `from_pretrained(path)` of a checkpoint on disk.
- synthetic: the shipped config with random weights, for architecture-only work (latency, memory). Built on
  the meta device and materialised once, so no parameter is initialised twice. Never a source of quality numbers.

Weight-only int8 / int4 (precision "int8" / "int4") go through torchao: its Int8WeightOnlyConfig (per-row
int8) and Int4WeightOnlyConfig (groups of 128, the tinygemm kernel: CUDA only), on every linear layer but the
LM head, computing in bf16. Hub and local checkpoints are quantized by transformers' integration
(`TorchAoConfig` in from_pretrained); synthetic models after building (`torchao.quantization.quantize_`). Why
torchao rather than bitsandbytes: its quantized tensors work under torch.compile and CUDA graphs (transformers
refuses to compile a bitsandbytes model), its batch-1 decode gains are documented (int8 1.6x, int4 1.9x over
bf16 on an A100), and it is a 3 MB wheel without dependencies. Those gains are not a given (docs/measurements.md
has what one GPU stack measured): the precision table reports what the stack does, not what the format could do.

Kernel truth (`kernel_paths`): which implementation each op runs, read from what transformers resolved, not
from which packages are installed: the attention implementation the model was built with, and for Gated
DeltaNet layers the functions their forward looks up in its module's globals (transformers decides, at import,
between flash-linear-attention / causal-conv1d and its torch reference, one op at a time).

Qwen3.5 checkpoints are multimodal; every mode loads the text model (Qwen3_5ForCausalLM), as
AutoModelForCausalLM does for those checkpoints.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn


def _import_torchao_quietly() -> None:
    """transformers imports torchao (when installed) as it builds any model. On a CPU build of torch that import
    logs one harmless warning per CUDA extension it cannot load, and torch logs deprecation notices for the enums
    torchao registers: import it here once with those two loggers quiet. On a CUDA build its warnings stay."""
    loggers = [logging.getLogger("torch.utils._pytree")] + (
        [logging.getLogger("torchao")] if torch.version.cuda is None else []
    )
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        import transformers.quantizers.auto  # noqa: F401  (imports torchao and its prototype formats)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


_import_torchao_quietly()

from huggingface_hub import hf_hub_download, try_to_load_from_cache  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError  # noqa: E402
from transformers import AutoModelForCausalLM, PreTrainedModel  # noqa: E402

from gentrend.core.devices import resolve_device  # noqa: E402
from gentrend.core.errors import ModelLoadError  # noqa: E402
from gentrend.core.vocab import QUANTIZED_PRECISIONS, WEIGHT_MODES, resolve_precision, torch_dtype  # noqa: E402
from gentrend.models.architecture import text_config  # noqa: E402
from gentrend.models.catalogue import Checkpoint, Model, repo_id  # noqa: E402

Mode = Literal["hub", "local", "synthetic"]


# the module globals a Gated DeltaNet forward calls, by op (prefill and decode variants)
_LINEAR_OPS = {
    "gated_delta_rule": ("torch_chunk_gated_delta_rule", "torch_recurrent_gated_delta_rule"),
    "causal_conv1d": ("causal_conv1d_fn", "causal_conv1d_update"),
}
_PACKAGE_LABELS = {"fla": "fla", "causal_conv1d": "causal-conv1d"}


def attention_label(attn_implementation: str) -> str:
    """sdpa / flash / eager (or the implementation's own name) for a transformers attention implementation."""
    name = str(attn_implementation)
    if "flash" in name:
        return "flash"
    return name if name in ("sdpa", "eager") else name or "unknown"


def _implementation(fn) -> str:
    """'torch' for transformers' reference function, else the package the resolved kernel comes from (the
    hub-kernel wrapper keeps its choice in the closure cells `implementation` / `is_new_implementation`)."""
    try:
        cells = inspect.getclosurevars(fn).nonlocals
    except TypeError:  # not a plain function (e.g. a kernel object)
        cells = {}
    if cells.get("is_new_implementation") is False:
        return "torch"
    impl = cells.get("implementation", fn)
    module = getattr(impl, "__module__", None) or type(impl).__module__ or ""
    package = module.split(".")[0]
    return "torch" if package in ("transformers", "torch") else _PACKAGE_LABELS.get(package, package)


def kernel_paths(model: nn.Module) -> dict[str, str]:
    """{attention, gated_delta_rule, causal_conv1d}: what runs. attention: sdpa / flash / eager. The linear-
    attention ops ("none" without such layers): fla / causal-conv1d, "torch" (the slow reference), or
    "mixed: ..." when prefill and decode resolved differently."""
    out = {
        "attention": attention_label(model.config._attn_implementation),
        "gated_delta_rule": "none",
        "causal_conv1d": "none",
    }
    layers = [m for m in model.modules() if type(m).__name__.endswith("GatedDeltaNet")]
    if layers:
        names = inspect.unwrap(type(layers[0]).forward).__globals__  # where the forward looks its kernels up
        for op, functions in _LINEAR_OPS.items():
            found = {f: _implementation(names[f]) if f in names else "missing" for f in functions}
            labels = set(found.values())
            out[op] = labels.pop() if len(labels) == 1 else "mixed: " + ", ".join(f"{f}={v}" for f, v in found.items())
    return out


def planned_kernels(model: Model) -> dict[str, str]:
    """`kernel_paths` of `model` before loading it: transformers resolves the kernels per class at import, so a
    tiny copy built on the meta device tells what the real model will run."""
    with torch.device("meta"):
        return kernel_paths(AutoModelForCausalLM.from_config(text_config(model, tiny=True)))


def linear_attention_kernels(paths: dict[str, str]) -> str:
    """One word for the linear-attention path of `kernel_paths`: none, fast (no op on the torch reference),
    partial (some ops), torch-fallback (all ops)."""
    ops = [paths[op] for op in _LINEAR_OPS]
    if all(v == "none" for v in ops):
        return "none"
    slow = [v == "torch" or v.startswith("mixed") for v in ops]
    return "torch-fallback" if all(slow) else "partial" if any(slow) else "fast"


@dataclass
class LoadedModel:
    model: PreTrainedModel
    catalogue_id: str
    mode: Mode
    source: str
    device: torch.device
    dtype: torch.dtype  # what it computes in (bf16 for quantized weights)
    load_seconds: float
    precision: str = ""  # the weights' precision name (int8 / int4 for quantized weights)

    @property
    def kernel_path(self) -> dict:
        """attn_implementation (as configured), the per-op truth of `kernel_paths` (as kernel_<op>), and its
        one-word summary."""
        paths = kernel_paths(self.model)
        return {
            "attn_implementation": self.model.config._attn_implementation,
            **{f"kernel_{op}": v for op, v in paths.items()},
            "linear_attention_kernels": linear_attention_kernels(paths),
        }

    @property
    def weights_label(self) -> str:
        return "synthetic (random weights)" if self.mode == "synthetic" else f"real ({self.mode})"


def build_synthetic(
    model: Model, device: torch.device, dtype: torch.dtype, seed: int = 0, tiny: bool = False
) -> PreTrainedModel:
    """The architecture of `model` with random weights: meta-device build, one materialisation, cheap fill.

    Linear and embedding weights are filled with uniform values in [-0.02, 0.02], drawn once (FILL_BLOCK of them)
    and tiled (values do not change latency or memory; a draw per element is what made a build slow); every other
    module (norms, rotary buffers, Gated DeltaNet's A_log and dt_bias) gets transformers' own initialisation
    so the forward pass stays numerically sane. tiny=True builds a shrunken copy (see architecture.shrink).
    """
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(text_config(model, tiny=tiny), dtype=dtype)
    net.to_empty(device=device)
    if device.type == "meta":
        return net.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    block = torch.empty(FILL_BLOCK, device=device, dtype=dtype).uniform_(-0.02, 0.02, generator=generator)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                tile_fill(module.weight, block)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            else:
                net._init_weights(module)
    net.tie_weights()
    return net.eval()


# values drawn once, then copied: a per-element random draw of 150M+ embedding values costs seconds on a CPU,
# a copy costs a memory pass. A prime length, so a row of a matrix rarely repeats the row before.
FILL_BLOCK = 1_048_573


def tile_fill(tensor: torch.Tensor, block: torch.Tensor) -> None:
    """Fill `tensor` with `block` repeated (uniform values; what a matmul costs does not depend on them)."""
    flat = tensor.view(-1)
    for start in range(0, flat.numel(), block.numel()):
        chunk = flat[start : start + block.numel()]
        chunk.copy_(block[: chunk.numel()])


def weights_source(
    model: Model,
    mode: Mode,
    *,
    path: str | Path | None = None,
    checkpoint: Checkpoint = "post_trained",
    tiny: bool = False,
) -> str:
    """Where `mode` takes the weights from: the config file (synthetic), the folder (local) or the repo id (hub).
    Bad combinations fail here, before anything is loaded."""
    if mode not in WEIGHT_MODES:
        raise ModelLoadError(f"unknown mode {mode!r}", f"use one of {', '.join(WEIGHT_MODES)}")
    if tiny and mode != "synthetic":
        raise ModelLoadError("tiny=True only applies to mode='synthetic'", "drop tiny, or use mode='synthetic'")
    if mode == "synthetic":
        return model.config_path.name + (" (tiny)" if tiny else "")
    if mode == "local":
        if path is None or not Path(path).is_dir():
            raise ModelLoadError(
                f"mode='local' needs the directory of a saved checkpoint; got {path!r}",
                "pass path=<folder with config.json and *.safetensors>, e.g. one written by save_pretrained",
            )
        return str(path)
    return repo_id(model, checkpoint)


def check_weights_reachable(
    model: Model, mode: Mode, *, path: str | Path | None = None, checkpoint: Checkpoint = "post_trained"
) -> None:
    """Fail before any work when `mode`'s weights cannot be had: a local folder without config.json, or a hub
    repo that is neither in the local cache nor downloadable (offline, or no access)."""
    source = weights_source(model, mode, path=path, checkpoint=checkpoint)
    if mode == "synthetic":
        return
    if mode == "local":
        if not (Path(source) / "config.json").is_file():
            raise ModelLoadError(
                f"{source} has no config.json",
                "pass the folder written by save_pretrained (config.json + *.safetensors)",
            )
        return
    if isinstance(try_to_load_from_cache(source, "config.json"), str):
        return
    try:
        hf_hub_download(source, "config.json")
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise ModelLoadError(
            f"weights of {model.id} ({source}) are not in the local Hugging Face cache and cannot be downloaded: "
            f"{str(e).splitlines()[0]}",
            f"download them first (`hf download {source}` on a machine with internet, or set HF_HOME "
            "to a cache that has them), or use --mode synthetic for latency and memory work",
        ) from None


def load_model(
    model: Model,
    mode: Mode = "synthetic",
    *,
    path: str | Path | None = None,
    checkpoint: Checkpoint = "post_trained",
    device: str = "auto",
    dtype: str = "auto",
    tiny: bool = False,
) -> LoadedModel:
    """Load `model` in `mode`; `path` is required for mode='local'. Errors say how to fix them. `dtype` is a
    precision name (gentrend.core.vocab; "auto": bf16 on a GPU, fp32 on the CPU; int8 / int4: weight-only, see the
    module docstring).

    tiny=True (synthetic mode only) builds a shrunken copy of the architecture for tests and smoke runs.
    """
    source = weights_source(model, mode, path=path, checkpoint=checkpoint, tiny=tiny)
    dev = resolve_device(device)
    precision = resolve_precision(dtype, dev.type)
    quantized = precision in QUANTIZED_PRECISIONS
    if quantized:
        check_quantization(precision, dev)
    dtype = torch_dtype(precision)
    start = time.perf_counter()
    if mode == "synthetic":
        net = build_synthetic(model, dev, dtype, tiny=tiny)
        if quantized:
            quantize_weights(net, precision)
    else:
        config = _torchao_config(precision, GROUP_SIZE) if quantized else None
        net = _from_pretrained(source, dev, dtype, model.id, config)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return LoadedModel(net, model.id, mode, source, dev, dtype, time.perf_counter() - start, precision)


GROUP_SIZE = 128  # int4: one scale and zero point per 128 weights (as the memory model assumes)


def check_quantization(precision: str, device: torch.device) -> None:
    """Fail early, with the fix, where torchao cannot quantize to `precision` on `device`."""
    try:
        import torchao  # noqa: F401
    except ImportError:
        raise ModelLoadError(
            f"{precision} weights need torchao, which is not installed",
            "pip install torchao (requirements.txt pins the tested version)",
        ) from None
    if precision == "int4" and device.type != "cuda":
        raise ModelLoadError(
            "int4 weight-only runs on CUDA only (torchao's tinygemm kernel)",
            "profile int4 on a GPU (--device cuda), or use int8 on the CPU",
        )


def _torchao_config(precision: str, group_size: int):
    from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig

    # set_inductor_config=False: the default flips process-wide inductor flags, which would change every later
    # compile in the process (bf16 ones included) and lengthen compiles
    if precision == "int8":
        return Int8WeightOnlyConfig(set_inductor_config=False)
    return Int4WeightOnlyConfig(
        group_size=group_size, int4_packing_format="tile_packed_to_4d", set_inductor_config=False
    )


def quantize_weights(net: PreTrainedModel, precision: str) -> None:
    """Weight-only quantization in place (torchao), of every linear layer but the LM head (transformers'
    default: the head, tied to the embedding in the small Qwens, stays in bf16). int4 groups: 128, or the
    largest of 64 / 32 that divides every layer's input width (shrunken test models)."""
    from torchao.quantization import quantize_

    def quantizable(module, name):
        return isinstance(module, nn.Linear) and not name.endswith("lm_head")

    widths = {m.in_features for n, m in net.named_modules() if quantizable(m, n)}
    group = next((g for g in (GROUP_SIZE, 64, 32) if all(w % g == 0 for w in widths)), None)
    if group is None:
        raise ModelLoadError(f"no int4 group size divides the layer widths {sorted(widths)}", "use int8 for this model")
    quantize_(net, _torchao_config(precision, group), filter_fn=quantizable)


def stored_bytes(tensor: torch.Tensor) -> int:
    """Bytes a tensor really stores: a quantized tensor subclass counts its parts (int8 data, scales, zero
    points) through __tensor_flatten__, not numel x the dtype it presents."""
    flatten = getattr(tensor, "__tensor_flatten__", None)
    if flatten is None or type(tensor) in (torch.Tensor, nn.Parameter):
        return tensor.numel() * tensor.element_size()
    names, _ = flatten()
    return sum(stored_bytes(getattr(tensor, n)) for n in names)


def _from_pretrained(
    source: str, device: torch.device, dtype: torch.dtype, model_id: str, quantization=None
) -> PreTrainedModel:
    # the whole model on the requested device: profiling must measure one device, and "auto" would spread it
    # over every visible GPU (or offload to the CPU) without saying so
    device_map = {"": device}
    extra = {}
    if quantization is not None:
        from transformers import TorchAoConfig

        extra["quantization_config"] = TorchAoConfig(quantization)
    try:
        net = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, device_map=device_map, **extra)
    except OSError as e:
        raise ModelLoadError(
            f"cannot load weights of {model_id} from {source!r}: {str(e).splitlines()[0]}",
            f"download them first (`hf download {source}` on a machine with internet, or set HF_HOME "
            "to a cache that has them), pass mode='local' with a checkpoint folder, or use mode='synthetic' "
            "for latency and memory work",
        ) from None
    return net.eval()
