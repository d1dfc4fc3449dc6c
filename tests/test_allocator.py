"""The server's allocator settings: request-sized buffers are reused instead of being faulted in afresh each time,
and an operator's own ``MALLOC_*_`` settings are left alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's")

# What receiving a large body does to memory: socket reads become bytes objects of up to 256 KiB, a couple alive
# at a time, each freed once written. Prints whether tune() applied and the page faults the loop caused.
_RECEIVE = """
import resource, sys
from cityops import allocator
applied = allocator.tune() if sys.argv[1] == "tune" else False
source = memoryview(bytes(range(256)) * 1024)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
window, before = [], faults()
for i in range(400):
    window.append(bytes(source[: 256 * 1024 - (i % 7) * 4096]))
    if len(window) > 2:
        window.pop(0)
print(applied, faults() - before)
"""


def _run(mode: str, **env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _RECEIVE, mode], env={**clean, **env}, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


def test_tuned_process_reuses_receive_buffers() -> None:
    applied, tuned = _run("tune")
    _, default = _run("default")
    assert applied
    # 400 buffers of ~256 KiB (64 pages each): the default allocator gives memory back and faults pages in again,
    # thousands of times; the tuned one reuses what it has.
    assert default > 2_000
    assert tuned < default // 5


def test_operator_settings_win() -> None:
    applied, _ = _run("tune", MALLOC_TRIM_THRESHOLD_="131072")
    assert not applied
