"""Device names: what this machine offers, and that each of them resolves."""

import torch

from rbt.device import available_devices, resolve_device


def test_available_devices_are_the_ones_this_torch_sees_and_all_resolve():
    devices = available_devices()
    assert devices[:2] == ["auto", "cpu"]
    assert ("cuda" in devices) == torch.cuda.is_available()
    assert set(devices) <= {"auto", "cpu", "cuda", "mps"}
    for name in devices:
        assert resolve_device(name).type in ("cpu", "cuda", "mps")
    assert resolve_device("auto").type == (devices[2] if len(devices) > 2 else "cpu")


def test_a_worker_task_runs_on_one_torch_thread_unless_the_worker_says_otherwise():
    import torch

    from rbt.device import use_worker_threads

    before = torch.get_num_threads()
    try:
        assert use_worker_threads({}) == 1 and torch.get_num_threads() == 1
        assert use_worker_threads({"RBT_TORCH_THREADS": "2"}) == 2
        assert torch.get_num_threads() == 2
        assert use_worker_threads({"RBT_TORCH_THREADS": "many"}) == 1
    finally:
        torch.set_num_threads(before)
