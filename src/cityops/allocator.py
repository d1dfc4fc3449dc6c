"""Keep the C allocator from handing request-sized memory back to the kernel after every request (glibc only).

Request bodies arrive as bytes objects of up to 256 KiB each (one socket read). Under glibc's defaults such a
block is either mmap'ed and unmapped again, or carved from the top of the heap, which is trimmed back to the
kernel as soon as more than 128 KiB–512 KiB lie free there. Either way the next read faults fresh pages in, and
each fault zeroes a page: receiving a 200 MiB upload cost ~50,000 page faults per 100 MiB and kept the event
loop's thread busy in the kernel; a bare ASGI app received 450 MiB/s where the socket delivers 1.5–2.7 GiB/s.
With blocks under 4 MiB always taken from the heap, and up to 16 MiB of free heap kept for reuse, the same app
receives at 1.5–1.9 GiB/s (faults: 220,000 → 5,600 for 400 MiB).

Blocks of 4 MiB and more (decoded photos, large reports) are still mmap'ed and returned when freed, so a process
keeps at most 16 MiB of idle heap per arena beyond what it really uses. An operator's own ``MALLOC_*_`` settings
win: when any is set, nothing is changed here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 4 << 20
TRIM_THRESHOLD = 16 << 20
_OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def tune() -> bool:
    """Apply the thresholds to this process; True when they were applied."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _OPERATOR_SETTINGS):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    # Setting either threshold also turns off glibc's dynamic adjustment of both, so both are set.
    ok = all(libc.mallopt(param, value) == 1
             for param, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    if not ok:
        log.warning("mallopt refused the allocator thresholds; large request bodies will be slower to receive")
    return ok
