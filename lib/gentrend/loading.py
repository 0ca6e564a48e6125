"""Load a catalogue model in one of three modes.

- hub: `from_pretrained(repo_id)` with accelerate's device_map (weights from the Hugging Face hub or its cache).
- local: `from_pretrained(path)` of a checkpoint on disk.
- synthetic: the shipped config with random weights, for architecture-only work (latency, memory). Built on
  the meta device and materialised once, so no parameter is initialised twice. Never a source of quality numbers.

Qwen3.5 checkpoints are multimodal; every mode loads the text model (Qwen3_5ForCausalLM), as
AutoModelForCausalLM does for those checkpoints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from transformers import AutoModelForCausalLM, PreTrainedModel
from transformers.utils.import_utils import is_causal_conv1d_available, is_flash_linear_attention_available

from .architecture import text_config
from .catalogue import Model
from .devices import resolve_device
from .errors import ModelLoadError
from .vocab import QUANTIZED_PRECISIONS, WEIGHT_MODES, resolve_precision, torch_dtype

Mode = Literal["hub", "local", "synthetic"]
Checkpoint = Literal["base", "post_trained"]
MODES = WEIGHT_MODES


def repo_id(model: Model, checkpoint: Checkpoint = "post_trained") -> str:
    """The HF repo of the wanted checkpoint of `model`; an error if the catalogue has none."""
    if checkpoint not in ("base", "post_trained"):
        raise ModelLoadError(f"unknown checkpoint {checkpoint!r}", "use 'base' or 'post_trained'")
    repo = getattr(model.repos, checkpoint)
    if repo is None:
        other = "post_trained" if checkpoint == "base" else "base"
        raise ModelLoadError(f"{model.id} has no {checkpoint} checkpoint in the catalogue",
                             f"use checkpoint='{other}', or add repos.{checkpoint} to its entry in data/models.yaml")
    return repo


def linear_attention_kernels(model: PreTrainedModel) -> str:
    """Which implementation runs linear-attention layers: 'none' (no such layers), 'fast' or 'torch-fallback'."""
    if "linear_attention" not in (getattr(model.config, "layer_types", None) or []):
        return "none"
    fast = is_flash_linear_attention_available() and is_causal_conv1d_available()
    return "fast" if fast else "torch-fallback"


@dataclass
class LoadedModel:
    model: PreTrainedModel
    catalogue_id: str
    mode: Mode
    source: str
    device: torch.device
    dtype: torch.dtype
    load_seconds: float

    @property
    def kernel_path(self) -> dict:
        return {
            "attn_implementation": self.model.config._attn_implementation,
            "linear_attention_kernels": linear_attention_kernels(self.model),
        }

    @property
    def weights_label(self) -> str:
        return "synthetic (random weights)" if self.mode == "synthetic" else f"real ({self.mode})"


def build_synthetic(
    model: Model, device: torch.device, dtype: torch.dtype, seed: int = 0, tiny: bool = False
) -> PreTrainedModel:
    """The architecture of `model` with random weights: meta-device build, one materialisation, cheap fill.

    Linear and embedding weights are filled uniformly (values do not change latency or memory); every other
    module (norms, rotary buffers, Gated DeltaNet's A_log and dt_bias) gets transformers' own initialisation
    so the forward pass stays numerically sane. tiny=True builds a shrunken copy (see architecture.shrink).
    """
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(text_config(model, tiny=tiny), dtype=dtype)
    net.to_empty(device=device)
    generator = None if device.type == "meta" else torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.uniform_(-0.02, 0.02, generator=generator)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            else:
                net._init_weights(module)
    net.tie_weights()
    return net.eval()


def weights_source(
    model: Model, mode: Mode, *, path: str | Path | None = None, checkpoint: Checkpoint = "post_trained", tiny: bool = False
) -> str:
    """Where `mode` takes the weights from: the config file (synthetic), the folder (local) or the repo id (hub).
    Bad combinations fail here, before anything is loaded."""
    if mode not in MODES:
        raise ModelLoadError(f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
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


def check_weights_reachable(model: Model, mode: Mode, *, path: str | Path | None = None,
                            checkpoint: Checkpoint = "post_trained") -> None:
    """Fail before any work when `mode`'s weights cannot be had: a local folder without config.json, or a hub
    repo that is neither in the local cache nor downloadable (offline, or no access)."""
    source = weights_source(model, mode, path=path, checkpoint=checkpoint)
    if mode == "synthetic":
        return
    if mode == "local":
        if not (Path(source) / "config.json").is_file():
            raise ModelLoadError(f"{source} has no config.json", "pass the folder written by save_pretrained (config.json + *.safetensors)")
        return
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if isinstance(try_to_load_from_cache(source, "config.json"), str):
        return
    try:
        hf_hub_download(source, "config.json")
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise ModelLoadError(
            f"weights of {model.id} ({source}) are not in the local Hugging Face cache and cannot be downloaded: "
            f"{str(e).splitlines()[0]}",
            f"download them first (`huggingface-cli download {source}` on a machine with internet, or set HF_HOME "
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
    precision name (gentrend.vocab; "auto": bf16 on a GPU, fp32 on the CPU).

    tiny=True (synthetic mode only) builds a shrunken copy of the architecture for tests and smoke runs.
    """
    source = weights_source(model, mode, path=path, checkpoint=checkpoint, tiny=tiny)
    dev = resolve_device(device)
    precision = resolve_precision(dtype, dev.type)
    if precision in QUANTIZED_PRECISIONS:
        raise ModelLoadError(f"loading {model.id} with {precision} weights is not supported yet",
                             "use a floating-point dtype (auto, bf16, fp16, fp32)")
    dtype = torch_dtype(precision)
    start = time.perf_counter()
    if mode == "synthetic":
        net = build_synthetic(model, dev, dtype, tiny=tiny)
    else:
        net = _from_pretrained(source, dev, dtype, model.id)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return LoadedModel(net, model.id, mode, source, dev, dtype, time.perf_counter() - start)


def _from_pretrained(source: str, device: torch.device, dtype: torch.dtype, model_id: str) -> PreTrainedModel:
    # the whole model on the requested device: profiling must measure one device, and "auto" would spread it
    # over every visible GPU (or offload to the CPU) without saying so
    device_map = {"": device}
    try:
        net = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, device_map=device_map)
    except OSError as e:
        raise ModelLoadError(
            f"cannot load weights of {model_id} from {source!r}: {str(e).splitlines()[0]}",
            f"download them first (`huggingface-cli download {source}` on a machine with internet, or set HF_HOME "
            "to a cache that has them), pass mode='local' with a checkpoint folder, or use mode='synthetic' "
            "for latency and memory work",
        ) from None
    return net.eval()
