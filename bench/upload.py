"""Evidence upload throughput and server memory: a 200 MiB video through tus over loopback, against a plain file
copy on the same disk, measured in one run.

    .venv/bin/python bench/upload.py [--mib 200] [--chunk-mib 8] [--checksum]

The client is tuspy (chunked PATCH requests, as the field app's tus client sends them). The upload time runs from
the creation POST to the last PATCH's answer, so it includes the server's finishing work: SHA-256, the magic-byte
and PyAV integrity checks, the poster frame, and the move into the content-addressed store. The baseline is
``shutil.copyfile`` of the same file on the same disk, followed by fsync (the server fsyncs the finished file
before it stores it); the median of three copies. ``TMPDIR`` chooses the disk (``TMPDIR=/dev/shm`` takes the disk
out of both, which leaves the server's CPU path against a memory copy).
Memory: VmHWM (peak RSS) of the server process from /proc before and after the big upload, after a small warm-up
upload has loaded Pillow and PyAV. Goals: ratio >= 0.3, peak RSS growth < 50 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _server import BIN, free_port, login


def make_video(path: Path, mib: int) -> None:
    """An MP4 of noise frames (incompressible) until it reaches ``mib`` MiB: a real video the server must accept."""
    import av

    target = mib * 2**20
    noise = [os.urandom(1280 * 720 * 3 // 2) for _ in range(12)]
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        s.codec_context.options = {"qscale": "2"}
        written, i = 0, 0
        while written < target:
            f = av.VideoFrame(1280, 720, "yuv420p")
            raw = noise[i % len(noise)]
            y, u = 1280 * 720, 1280 * 720 // 4
            for plane, part in zip(f.planes, (raw[:y], raw[y:y + u], raw[y + u:]), strict=True):
                plane.update(part)
            f.pts = i
            for pkt in s.encode(f):
                written += pkt.size
                c.mux(pkt)
            i += 1
        for pkt in s.encode():
            c.mux(pkt)
    fd = os.open(path, os.O_RDONLY)  # on disk before the copy is timed: the copy does not pay for its writeback
    os.fsync(fd)
    os.close(fd)


def copy_rate(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    seconds = time.perf_counter() - t
    dst.unlink()
    return src.stat().st_size / 2**20 / seconds


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmHWM"], fields["VmRSS"]


def tus_upload(base: str, token: str, path: Path, chunk: int, checksum: bool) -> tuple[float, str]:
    from tusclient.client import TusClient
    from tusclient.uploader import Uploader

    class Sha256Uploader(Uploader):
        CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    client = TusClient(f"{base}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"})
    with path.open("rb") as f:
        t = time.perf_counter()
        up = Sha256Uploader(file_stream=f, client=client, chunk_size=chunk, upload_checksum=checksum,
                            metadata={"filename": path.name})
        up.upload()
        seconds = time.perf_counter() - t
        digest = up.request.response_headers.get("upload-sha256", "") if up.request else ""
    return seconds, digest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=200)
    ap.add_argument("--chunk-mib", type=int, default=8)
    ap.add_argument("--checksum", action="store_true", help="send a sha256 Upload-Checksum with every chunk")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-upload-", dir=os.environ.get("TMPDIR", "/tmp")))
    video, small = tmp / "big.mp4", tmp / "small.mp4"
    proc = None
    try:
        print(f"making a {args.mib} MiB video in {tmp} …", file=sys.stderr)
        make_video(video, args.mib)
        make_video(small, 2)
        size_mib = video.stat().st_size / 2**20
        # The disk is shared (other work, writeback): the median of three copies is a steadier baseline.
        copy = sorted(copy_rate(video, tmp / "copy.mp4") for _ in range(3))[1]

        env = dict(os.environ, CITYOPS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db", CITYOPS_LOG_LEVEL="WARNING",
                   CITYOPS_MEDIA_DIR=str(tmp / "media"))
        env.pop("CITYOPS_REDIS_URL", None)
        subprocess.run([str(BIN / "cityops"), "demo", "--days", "0"], env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        proc = subprocess.Popen([str(BIN / "cityops"), "serve", "--port", str(port), "--no-sweeper"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        token = login(base, "officer1")  # a demo 执法队员 filming an enforcement
        chunk = args.chunk_mib * 2**20
        tus_upload(base, token, small, chunk, args.checksum)  # warm-up: Pillow, PyAV, code paths loaded
        hwm_before, rss_before = peak_rss_mib(proc.pid)
        seconds, digest = tus_upload(base, token, video, chunk, args.checksum)
        hwm_after, rss_after = peak_rss_mib(proc.pid)
        expected = hashlib.sha256(video.read_bytes()).hexdigest()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    upload = size_mib / seconds
    growth = hwm_after - hwm_before
    print(f"file                 {size_mib:9.1f} MiB video/mp4, chunks of {args.chunk_mib} MiB, "
          f"checksum {'sha256' if args.checksum else 'off'}")
    print(f"plain copy + fsync   {copy:9.1f} MiB/s  (median of 3)")
    print(f"tus upload           {upload:9.1f} MiB/s  ({seconds:.2f} s incl. hashing, checks, poster, store)")
    print(f"ratio                {upload / copy:9.3f}  (goal >= 0.3)")
    print(f"server peak RSS      {hwm_before:9.1f} -> {hwm_after:.1f} MiB (growth {growth:.1f} MiB, goal < 50 MB); "
          f"RSS now {rss_after:.1f} MiB (was {rss_before:.1f})")
    print(f"stored hash matches  {digest == expected}")


if __name__ == "__main__":
    main()
