"""Copies of a model made once per model state, shared by every call that needs one.

Attributions run on a copy of the model whose parameters need no gradients, and the
randomisation check on a copy with re-initialised weights. Deep-copying RBTransformer costs
tens of milliseconds, which the dashboard would pay on every click; a copy is made once per
model, and again only when the model's parameters change (moved, or updated in place, which
bumps each tensor's version counter). The copies are never modified after they are made and
hold no per-call state, so sessions and threads share them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable

from torch import nn

_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _state(model: nn.Module) -> tuple:
    """Where each parameter and buffer lives and its version, and the hooks and mode of each
    module (a deep copy carries them): changes when the model does."""
    tensors = tuple((t.device, t.data_ptr(), t._version)
                    for t in (*model.parameters(), *model.buffers()))
    modules = tuple((m.training, tuple(m._forward_hooks), tuple(m._forward_pre_hooks),
                     tuple(m._backward_hooks)) for m in model.modules())
    return tensors, modules


def shared_copy(model: nn.Module, kind: Hashable, make: Callable[[nn.Module], nn.Module]):
    """``make(model)``, made once for the model's current state and this ``kind``."""
    state = _state(model)
    with _LOCK:
        known = _COPIES.setdefault(model, {})
        hit = known.get(kind)
        if hit is not None and hit[0] == state:
            return hit[1]
    made = make(model)
    with _LOCK:
        known[kind] = (state, made)
    return made
