"""The model side of an evaluation: weights and tokenizer, wrapped in lm-eval's HFLM.

Weights load through gentrend.models.loading (one loader for profiling and evaluation: the whole model on the named
device, its offline errors); HFLM receives the loaded model and tokenizer. Tokenizer: the checkpoint's own
(hub or local); for synthetic weights, gentrend.evaluation.synthetic's. Thinking (Qwen3, Qwen3.5) is the
chat template's `enable_thinking` switch, passed by HFLM as a chat-template argument; a template without the
switch has no thinking mode.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from huggingface_hub import constants, try_to_load_from_cache

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
            "or download the checkpoint with `hf download <repo> --local-dir <path>`",
        )


HUB_PROBE_SECONDS = 3.0  # one TCP connect: long enough for a slow link, short enough not to feel like a hang


def hub_reachable() -> bool:
    """False when the hub cannot be used: HF_HUB_OFFLINE is set, or its endpoint does not accept a connection
    (no network). Checked once, before any download, so an offline run fails at once instead of retrying."""
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlsplit(constants.ENDPOINT)
    found: list = []
    # the name lookup has no timeout of its own (without network it can take tens of seconds): a daemon thread
    lookup = threading.Thread(target=_lookup, args=(url.hostname, url.port or 443, found), daemon=True)
    lookup.start()
    lookup.join(HUB_PROBE_SECONDS)
    if not found:
        return False
    try:
        socket.create_connection(found[0][4][:2], timeout=HUB_PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def _lookup(host: str, port: int, found: list) -> None:
    with contextlib.suppress(OSError):
        found += socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_hub_weights(repo: str) -> None:
    """Fail at once, naming what is missing, when `repo` is not complete in the local Hugging Face cache (config,
    weights, tokenizer) and the hub cannot be reached; online, from_pretrained downloads what is missing."""
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
    if not missing or hub_reachable():
        return
    why = "HF_HUB_OFFLINE=1" if constants.HF_HUB_OFFLINE else f"no connection to {constants.ENDPOINT}"
    raise ModelLoadError(
        f"{repo} is not in the local Hugging Face cache and the hub is offline ({why}); missing: {', '.join(missing)}",
        f"download it where there is network (`hf download {repo}`) and copy the cache here (HF_HOME), or score "
        f"a checkpoint folder: --eval-mode local --eval-dir DIR, with DIR/<model id>/ written by "
        f"`hf download {repo} --local-dir DIR/<model id>`",
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
            f"download it first (`hf download {source}` on a machine with internet, or set HF_HOME to a "
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
