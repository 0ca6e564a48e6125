"""The model side of an evaluation: weights and tokenizer, wrapped in lm-eval's HFLM.

Weights load through gentrend.models.loading (one loader for profiling and evaluation: the whole model on the named
device, its offline errors); HFLM receives the loaded model and tokenizer. Tokenizer: the checkpoint's own
(hub or local); for synthetic weights, gentrend.evaluation.synthetic's. Thinking (Qwen3, Qwen3.5) is the
chat template's `enable_thinking` switch, passed by HFLM as a chat-template argument; a template without the
switch has no thinking mode.
"""

from __future__ import annotations

from pathlib import Path

from gentrend.core.errors import ModelLoadError
from gentrend.evaluation.settings import EvalSettings, EvalSettingsError
from gentrend.evaluation.synthetic import synthetic_tokenizer
from gentrend.models.catalogue import Model
from gentrend.models.loading import LoadedModel

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_checkpoint_folder(path: str | Path) -> None:
    """Name every piece a local checkpoint folder lacks (config, weights, tokenizer) before loading it."""
    folder = Path(path)
    missing = []
    if not (folder / "config.json").exists():
        missing.append("config.json")
    if not any(next(folder.glob(p), None) for p in WEIGHT_FILES):
        missing.append("weights (*.safetensors or *.bin)")
    if not any((folder / f).exists() for f in TOKENIZER_FILES):
        missing.append("tokenizer (tokenizer.json / tokenizer_config.json)")
    if missing:
        raise ModelLoadError(
            f"checkpoint folder {str(folder)!r} lacks: {', '.join(missing)}",
            "save the model and its tokenizer there (model.save_pretrained(path); tokenizer.save_pretrained(path)), "
            "or download the checkpoint with `huggingface-cli download <repo> --local-dir <path>`",
        )


def check_hub_cache(repo: str) -> None:
    """Offline (HF_HUB_OFFLINE=1): name every piece of `repo` the local Hugging Face cache lacks, before loading."""
    from huggingface_hub import constants, try_to_load_from_cache

    if not constants.HF_HUB_OFFLINE:
        return  # online: from_pretrained downloads what is missing
    cached = lambda *names: any(isinstance(try_to_load_from_cache(repo, n), str) for n in names)
    missing = [
        piece
        for piece, names in (
            ("config.json", ("config.json",)),
            ("weights", ("model.safetensors", "model.safetensors.index.json")),
            ("tokenizer", ("tokenizer.json", "tokenizer_config.json")),
        )
        if not cached(*names)
    ]
    if missing:
        raise ModelLoadError(
            f"{repo} is not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE=1); missing: {', '.join(missing)}",
            f"download it on a machine with network (`huggingface-cli download {repo}`) and copy the cache here (set HF_HOME "
            "to it), unset HF_HUB_OFFLINE to download now, or pass mode='local' with a checkpoint folder",
        )


def load_tokenizer(model: Model, mode: str, source: str):
    """The checkpoint's tokenizer (hub or local), or the synthetic one; errors say how to get it."""
    if mode == "synthetic":
        return synthetic_tokenizer()
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ModelLoadError(
            f"cannot load the tokenizer of {model.id} from {source!r}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
            f"download it first (`huggingface-cli download {source}` on a machine with internet, or set HF_HOME to a "
            "cache that has it), or save it into the checkpoint folder with tokenizer.save_pretrained(path)",
        ) from None


def has_thinking_switch(tokenizer) -> bool:
    """True when the tokenizer's chat template reads `enable_thinking` (Qwen3 and Qwen3.5 templates do)."""
    return "enable_thinking" in str(getattr(tokenizer, "chat_template", None) or "")


def applied_thinking(settings: EvalSettings, tokenizer, model_id: str) -> bool | None:
    """What the run applies: True/False (the template's switch, None -> False), or None where there is none."""
    if not settings.chat_template:
        return None
    if not has_thinking_switch(tokenizer):
        if settings.thinking:
            raise EvalSettingsError(
                f"the chat template of {model_id} has no thinking switch (enable_thinking)",
                "leave thinking None for this model (only Qwen3 and Qwen3.5 templates have it)",
            )
        return None
    return bool(settings.thinking)


def make_lm(loaded: LoadedModel, tokenizer, settings: EvalSettings, thinking: bool | None):
    """lm-eval's HFLM around an already loaded model: batch size, and the thinking switch as a template argument."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(
        pretrained=loaded.model,
        tokenizer=tokenizer,
        batch_size=settings.batch_size,
        max_batch_size=settings.max_batch_size,
        enable_thinking=thinking,
        think_end_token=settings.think_end_token if thinking else None,
    )
