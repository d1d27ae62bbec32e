"""Picking a torch device."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; other names are checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but this torch build sees no CUDA GPU; "
                         "use --device auto or cpu")
    if device == "mps" and not (getattr(torch.backends, "mps", None)
                                and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but is not available; use auto or cpu")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise ValueError(f"device must be auto, cpu, cuda or mps; got {device!r}")
    return torch.device(device)
