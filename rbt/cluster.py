"""Dataset-wide work as Dask tasks: one client, tasks submitted, results collected in order.

rbt never schedules work itself. :func:`connect` opens a ``distributed.Client`` on an existing
scheduler (``--scheduler ADDRESS`` or ``RBT_SCHEDULER``) or on a ``distributed.LocalCluster``
it starts (``--workers N``); :func:`run_tasks` runs one plain top-level function per task,
in-process one after the other when there is no cluster, or as one Dask task each. Either way
the same function computes each task, so the results are the same (to the bit on the same
device type and torch thread count: a CPU task runs with one torch thread, or
``RBT_TORCH_THREADS`` of the worker's). A task lost with its worker is rerun by Dask.

Dask is an extra (``pip install 'rbt[cluster]'``) imported only here, on first use.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import uuid
from collections.abc import Callable, Sequence

from .progress import progress_bar

#: the environment variable naming the scheduler to run on (as ``--scheduler`` does)
SCHEDULER_ENV = "RBT_SCHEDULER"
INSTALL = "pip install 'rbt[cluster]'"
#: Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which fixes glibc's mmap threshold at
#: 128 KiB: every tensor above that is a fresh mmap, page-faulted in and unmapped when freed
#: (measured here: elementwise torch ops 13x slower, a training fold 1.7x). rbt's local
#: cluster leaves it unset; set it to null in the config of workers started otherwise.
NO_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: how long a scheduler's address may take to connect and send its first bytes
PROBE_TIMEOUT_S = 10.0


def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ImportError("running on a Dask cluster (--scheduler, --workers, RBT_SCHEDULER) "
                          f"needs Dask's distributed scheduler: {INSTALL}") from err
    return distributed


class Cluster:
    """A Dask client rbt submits its tasks to; :meth:`close` closes what rbt started (the
    client, and the local cluster when it started one), never a scheduler it was given."""

    def __init__(self, client, local=None):
        self.client = client
        self.local = local

    @property
    def dashboard_link(self) -> str | None:
        try:
            return self.client.dashboard_link
        except (AttributeError, KeyError):
            return None

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def gpu_workers(self) -> int:
        """How many workers offer the ``GPU`` resource that GPU tasks ask for."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        return sum(1 for w in workers if w.get("resources", {}).get("GPU", 0) >= 1)

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(scheduler: str | None = None, workers: int | None = None, env=None,
            announce: bool = True, **local_options) -> Cluster | None:
    """A :class:`Cluster` on ``scheduler`` (default ``$RBT_SCHEDULER``) or on a new local one
    of ``workers`` processes (one thread each); None when neither is given (run in-process).

    ``local_options`` go to ``distributed.LocalCluster`` (e.g. ``dashboard_address``). A local
    cluster on a machine whose torch sees CUDA gives each worker one ``GPU`` resource. With
    ``announce`` the dashboard's address is printed on stderr.
    """
    env = os.environ if env is None else env
    scheduler = scheduler or env.get(SCHEDULER_ENV, "").strip() or None
    if scheduler and workers:
        raise ValueError(f"give either a scheduler address ({scheduler}, from --scheduler or "
                         f"{SCHEDULER_ENV}) or --workers {workers} for a local cluster, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    if not scheduler and not workers:
        return None
    distributed = _distributed()
    if scheduler:
        cluster = Cluster(_client_on(distributed, scheduler))
    else:
        import dask
        import torch

        options = {"n_workers": workers, "threads_per_worker": 1, "processes": True,
                   **({"resources": {"GPU": 1}} if torch.cuda.is_available() else {}),
                   **local_options}
        with dask.config.set({NO_MALLOC_TRIM: None}):
            local = distributed.LocalCluster(**options)
        cluster = Cluster(distributed.Client(local), local)
        cluster.client.register_plugin(_fast_exit_plugin())
    if announce:
        where = scheduler or f"a local cluster of {workers} worker(s)"
        link = cluster.dashboard_link
        print(f"Dask: running on {where}" + (f"; dashboard {link}" if link else ""),
              file=sys.stderr, flush=True)
    return cluster


def _client_on(distributed, scheduler: str):
    """A client on the scheduler at ``scheduler``, or a clear error naming the address."""
    from distributed.comm.addressing import parse_address, parse_host_port

    hint = "start one (dask scheduler) or check the address, e.g. tcp://10.0.0.5:8786"
    try:
        protocol, location = parse_address(scheduler)
        host, port = parse_host_port(location) if protocol in ("tcp", "tls") else (None, None)
    except ValueError as err:
        raise ValueError(f"--scheduler {scheduler!r} is not a Dask scheduler address ({err}); "
                         "expected e.g. tcp://10.0.0.5:8786") from err
    if protocol == "tcp":
        _probe(scheduler, host, port, hint)
    try:
        return distributed.Client(scheduler, timeout="30s")
    except (OSError, ValueError) as err:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({err}); {hint}") from err
    except MemoryError as err:  # what answered sent a huge "message length": not Dask
        raise OSError(f"what answers at {scheduler} is not a Dask scheduler (its reply is not "
                      f"Dask's protocol); {hint}") from err


def _probe(scheduler: str, host: str, port: int, hint: str) -> None:
    """Fail at once where ``distributed.Client`` would wait: it retries a refused connection
    for its whole timeout, and waits for the scheduler's handshake with no timeout at all (a
    port that accepts but never answers, such as a web server's, hangs it). A Dask scheduler
    sends its handshake as soon as a connection opens, a message whose first 8 bytes are its
    length (little-endian), so that much is read here; no Dask call checks an address."""
    head, connected = b"", False
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as sock:
            connected = True
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise ConnectionError("it closed the connection without a reply")
                head += chunk
    except TimeoutError as err:
        if connected:  # and nothing came back
            raise OSError(f"what answers at {scheduler} is not a Dask scheduler (no reply "
                          f"within {PROBE_TIMEOUT_S:g} s); {hint}") from err
        raise OSError(f"cannot reach the Dask scheduler at {scheduler}: no connection within "
                      f"{PROBE_TIMEOUT_S:g} s; {hint}") from err
    except OSError as err:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler}: {err}; {hint}") from err
    if struct.unpack("<Q", head)[0] > 1 << 24:  # a handshake is some 100 bytes
        raise OSError(f"what answers at {scheduler} is not a Dask scheduler (its reply is not "
                      f"Dask's protocol); {hint}")


def task_device(device, cluster: Cluster | None) -> str:
    """The device name a command's tasks are given (``run_tasks(device=...)``).

    In-process: ``device`` resolved here (:func:`rbt.device.resolve_device`: "auto" picks this
    machine's GPU, and a device it lacks is an error). On a cluster it is never resolved here,
    since the devices are the workers' (a client without CUDA may drive GPU workers): the name
    as asked, checked for spelling, which each task resolves where it runs. There "auto" is
    "cuda" when some worker offers a ``GPU`` resource, so that every task asks for one and all
    run on the same device type (the same numbers); otherwise each worker resolves "auto".
    """
    from .device import device_name, resolve_device

    if cluster is None:
        return str(resolve_device(device))
    name = device_name(device)
    return "cuda" if name == "auto" and cluster.gpu_workers() else name


def block_starts(n: int, unit: int, cluster: Cluster) -> list[tuple[int, int]]:
    """``(start, stop)`` blocks of ``n`` windows, each of whole ``unit``-window batches (so a
    block's batches are those of the in-process run), about 4 per worker of ``cluster``."""
    batches = -(-n // unit)
    per_block = unit * max(1, -(-batches // (4 * max(cluster.n_workers, 1))))
    return [(s, min(s + per_block, n)) for s in range(0, n, per_block)]


def _worker_device(name: str):
    """``name`` resolved on the worker a task runs on; an error names the worker."""
    from .device import resolve_device

    try:
        return resolve_device(name)
    except ValueError as err:
        try:
            where = f"the Dask worker at {_distributed().get_worker().address}"
        except ValueError:  # not in a worker
            where = "this Dask worker"
        raise ValueError(f"{where} cannot run on device {name!r}: {err}") from None


def _in_worker(fn: Callable, kwargs: dict, device: str | None = None):
    """Run one task in a worker: one torch thread (or the worker's ``RBT_TORCH_THREADS``),
    so that tasks side by side never oversubscribe the cores and give what one thread
    gives in-process; with ``device``, the task's ``device`` resolved here, on the worker."""
    from .device import use_worker_threads

    use_worker_threads()
    if device is not None:
        kwargs = {**kwargs, "device": _worker_device(device)}
    return fn(**kwargs)


def _fast_exit_plugin():
    """A worker plugin that freezes the garbage collector as its worker closes: the process
    then exits without the interpreter's last collection over torch's objects, which kept a
    local cluster's close waiting for its workers (measured side by side, 2 workers after a
    features run, load 4.8 to 5.0: median 1.64 s, up to 4.2 s, without; 0.36 s with). Only
    cyclic garbage left at exit is not collected; the process ends right after, freeing it."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class FastExit(WorkerPlugin):
        name = "rbt-fast-exit"

        def teardown(self, worker) -> None:
            import gc

            gc.freeze()

    return FastExit()


_RESCATTERS = 3  # times the tasks left are sent again after their inputs were lost


def _inputs_lost(scattered: dict) -> bool:
    """Whether the scheduler lost a scattered input (its last holder left the cluster)."""
    return any(f.status != "finished" for f in scattered.values())


def run_tasks(cluster: Cluster | None, fn: Callable, tasks: Sequence[dict], *,
              shared: dict | None = None, gpu: bool = False, device=None,
              desc: str = "tasks", unit: str = "task", progress: bool = True,
              on_done: Callable[[int, object], dict | None] | None = None,
              in_process: dict | None = None, total: int | None = None) -> list:
    """``fn(**shared, **task)`` for every task; the results in task order.

    Without a cluster the tasks run here one after the other (with ``in_process`` added to
    their arguments, e.g. to show inner progress bars). On a cluster each is one Dask task;
    ``shared`` values (large arrays every task reads) are sent to every worker once, and
    with ``gpu`` each task asks for one ``GPU`` worker resource. With ``device`` ("auto",
    "cpu", "cuda", ...), ``fn`` gets ``device=`` the torch device resolved where the task
    runs: here once in-process, on each worker on a cluster (see :func:`task_device`; a cuda
    task asks for a GPU). ``on_done(i, result)`` is called as each task finishes, in
    finishing order; what it returns (a dict) is shown beside the bar, which counts finished
    tasks out of ``total`` (default: these tasks; more when some were done before, as a
    resumed run's folds).
    """
    shared = shared or {}
    results: list = [None] * len(tasks)
    total = max(total or 0, len(tasks))
    bar = progress_bar(total=total, initial=total - len(tasks), desc=desc, unit=unit,
                       disable=not progress)

    def finished(i: int, result) -> None:
        results[i] = result
        postfix = on_done(i, result) if on_done else None
        if postfix:
            bar.set_postfix(**postfix)
        bar.update(1)

    if cluster is None or not tasks:
        here = {}
        if device is not None and tasks:
            from .device import resolve_device  # imports torch (1.4 s): only when asked for

            here = {"device": resolve_device(device)}
        with bar:
            for i, task in enumerate(tasks):
                finished(i, fn(**shared, **task, **here, **(in_process or {})))
        return results
    distributed = _distributed()
    client = cluster.client
    if device is not None:
        device = task_device(device, cluster)
        gpu = gpu or device.startswith("cuda")
    if gpu and not cluster.gpu_workers():
        raise ValueError("these tasks run on a GPU (device cuda), but no worker of the Dask "
                         "cluster offers a 'GPU' resource; start the workers with "
                         "--resources GPU=1 (one per GPU), or use --device cpu")
    token = uuid.uuid4().hex[:8]
    pending = dict(enumerate(tasks))
    with bar:
        for attempt in range(1 + _RESCATTERS):
            # a copy on every worker (each needs them anyway); Dask's memory manager may then
            # keep only one, and scattered data, unlike a task's result, cannot be recomputed:
            # when a lost worker held the last copy, the tasks left are sent again
            scattered = {k: client.scatter(v, broadcast=True, hash=False)
                         for k, v in shared.items()}
            futures = [client.submit(_in_worker, fn, {**scattered, **task}, device,
                                     key=f"rbt-{fn.__name__}-{i}-{token}-{attempt}",
                                     pure=False, resources={"GPU": 1} if gpu else None)
                       for i, task in pending.items()]
            order = {f.key: i for f, i in zip(futures, pending)}
            try:
                for future in distributed.as_completed(futures):
                    try:
                        result = future.result()  # a task's error is raised here, as in-process
                    except distributed.client.FutureCancelledError:
                        if attempt == _RESCATTERS or not _inputs_lost(scattered):
                            raise
                        break
                    future.release()
                    finished(i := order[future.key], result)
                    del pending[i]
            finally:
                client.cancel(futures + list(scattered.values()))
            if not pending:
                break
    return results
