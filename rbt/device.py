"""Picking a torch device, and which ones this machine has."""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    # torch builds without Apple support have no torch.backends.mps at all
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def available_devices() -> list[str]:
    """The device names :func:`resolve_device` accepts here: ``["auto", "cpu"]`` plus "cuda"
    and "mps" when this torch build sees them."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; other names are checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but this torch build sees no CUDA GPU; "
                         "use --device auto or cpu")
    if device == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for but is not available; use auto or cpu")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise ValueError(f"device must be auto, cpu, cuda or mps; got {device!r}")
    return torch.device(device)
