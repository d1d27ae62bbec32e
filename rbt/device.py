"""Picking a torch device, which ones this machine has, and how many CPU threads torch uses."""

from __future__ import annotations

import os

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


def device_name(device: str | torch.device) -> str:
    """``device`` as a name ("auto", "cpu", "cuda", "cuda:1", "mps"), checked for spelling
    only, not for this machine having it: what a Dask cluster's tasks are given, each to
    resolve where it runs (:func:`resolve_device`), since the GPUs are the workers'."""
    name = str(device)
    if name == "auto":
        return name
    if not name.startswith(("cpu", "cuda", "mps")):
        raise ValueError(f"device must be auto, cpu, cuda or mps; got {device!r}")
    try:
        return str(torch.device(name))
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu, cuda (or cuda:N) or mps; got {device!r}"
                         ) from None


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


#: the environment variable that fixes torch's thread count (the CLI and the dashboard read it)
THREADS_ENV = "RBT_TORCH_THREADS"


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def torch_threads(env=None, load: float | None = None, cpus: int | None = None) -> int:
    """How many intra-op threads torch should use so that the process never asks for more
    threads than there are free cores.

    ``RBT_TORCH_THREADS`` (in ``env``, default ``os.environ``), when a positive integer, wins
    (at most the CPUs this process may run on). Otherwise: the CPUs minus the one-minute load
    average (``load``, default ``os.getloadavg()``), rounded, at least 1. On a shared 2-core
    machine with other work running that is 1 thread, which is faster there than torch's
    default of 2 (measured: predict 2,212 against 673 windows/s); on a quiet one, 2.
    """
    cpus = cpus or _cpus()
    text = (os.environ if env is None else env).get(THREADS_ENV, "").strip()
    if text.isdigit() and int(text) > 0:
        return min(int(text), cpus)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average (Windows)
            load = 0.0
    return max(1, min(cpus, cpus - int(load + 0.5)))


def use_torch_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count to ``n`` (default :func:`torch_threads`); returns it.
    Process-wide: call it once, where the process starts its work (the ``rbt`` commands do)."""
    n = n or torch_threads()
    if n < 1:
        raise ValueError(f"the thread count must be >= 1; got {n}")
    torch.set_num_threads(n)
    return n


def use_worker_threads(env=None) -> int:
    """Set torch's threads for a task on a cluster's worker: ``RBT_TORCH_THREADS`` of the
    worker when set, else 1, so that tasks side by side never oversubscribe its cores and
    give what one thread gives in-process; returns the count."""
    text = (os.environ if env is None else env).get(THREADS_ENV, "").strip()
    n = int(text) if text.isdigit() and int(text) > 0 else 1
    torch.set_num_threads(n)
    return n


def use_batch_workers(n: int | None = None) -> int:
    """Run CPU predictions as ``n`` batches side by side (``predict_array(workers=n)``), each
    on one torch thread; returns ``n``. ``n`` defaults to ``RBT_TORCH_THREADS`` when set, else
    every CPU this process may use, whatever the load.

    torch's intra-op threads meet at the end of every op, so one thread slowed by other work
    stalls them all (hence :func:`torch_threads`' free cores); independent batches never wait
    on each other, so they gain from every core even on a busy machine. Measured on 2 cores,
    8,192 windows, side by side: at load 1.8, 2,076 windows/s against 1,224 on one thread and
    1,687 on two intra-op threads; at load 6.6, 368 against 270 and 196. Process-wide like
    :func:`use_torch_threads` (torch's intra-op threads are set to 1): call it once, where the
    process starts its work.
    """
    if n is None:
        n = torch_threads() if os.environ.get(THREADS_ENV, "").strip() else _cpus()
    if n < 1:
        raise ValueError(f"the worker count must be >= 1; got {n}")
    torch.set_num_threads(1)
    return n
