"""The fork server's preload (:func:`actlab._processes.worker_context`): it imports the modules of
:data:`~actlab._processes.PRELOAD` with Python's garbage collector off, then moves every object
they made out of its sight (``gc.freeze``) before it turns it on again.

Loading torch and ``torch._dynamo`` ran two or three full collections in the server, 0.25 s of
the 2-3 s before the first worker can train. Frozen, the imported objects are never walked again:
not by the server, nor by the workers forked from it, whose full collections see only what they
made (and whose memory pages the collector then leaves shared with the server's)."""

from __future__ import annotations

import gc
import importlib

from actlab._processes import PRELOAD

gc.disable()
try:
    for _module in PRELOAD:
        importlib.import_module(_module)
finally:
    gc.freeze()
    gc.enable()
