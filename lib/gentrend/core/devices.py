"""The device a run measures on, resolved once (the runner does it before any notebook starts) and passed down
as an explicit name ('cpu', 'cuda:0'), so every notebook and module of one run agrees on it."""

from __future__ import annotations

import torch

from gentrend.core.errors import SettingError


def unknown_device(device) -> SettingError:
    """The one message for a device name that is not auto, cpu, cuda or cuda:N."""
    return SettingError(f"unknown device {device!r}", "use auto, cpu, cuda or cuda:N")


def check_device_name(device) -> str:
    """A device name's form, without looking for the device (settings are checked before any hardware is)."""
    if not isinstance(device, str) or not (device in ("auto", "cpu") or device.startswith("cuda")):
        raise unknown_device(device)
    return device


def resolve_device(device: str = "auto", here: bool = True) -> torch.device:
    """'auto' → the first CUDA GPU when there is one, else the CPU; 'cuda' → 'cuda:0'. Errors say what exists.
    here=False: a device of other machines (the Ray executor's nodes, which check it themselves): its name is
    checked, not whether this machine has it."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    check_device_name(device)
    if not here:
        dev = torch.device(device)
        return torch.device("cuda", dev.index or 0) if dev.type == "cuda" else dev
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SettingError(
            f"device {device!r} requested but CUDA is not available on this machine", "use --device cpu (or auto)"
        )
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise unknown_device(device) from None
    if dev.type == "cuda":
        index = 0 if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise SettingError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible",
                f"use cuda:0 ... cuda:{torch.cuda.device_count() - 1}",
            )
        dev = torch.device("cuda", index)
    return dev
