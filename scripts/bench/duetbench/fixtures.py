"""What every part stands on: commands that name their failures, the cache drop, the loop-backed
btrfs and its data, the loop device's I/O scheduler, and stopping children after an interruption."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def run(args, **kwargs):
    result = subprocess.run(args, text=True, capture_output=True, **kwargs)
    if result.returncode != 0:  # with the command's own words, which CalledProcessError leaves out
        print(f"bench: {' '.join(map(str, args))[:300]} exited {result.returncode}: {result.stderr[-1000:]}", file=sys.stderr)
        result.check_returncode()
    return result


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


class LoopBtrfs:
    """A btrfs on a direct-I/O loop device in a temporary directory, always torn down."""

    def __init__(self, size_gib, workdir):
        self.dir = tempfile.mkdtemp(prefix="duet-bench-", dir=workdir)
        self.image = os.path.join(self.dir, "disk.img")
        self.mnt = os.path.join(self.dir, "mnt")
        self.device = None
        self.size_gib = size_gib
        os.mkdir(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(int(size_gib * (1 << 30)))
        self.device = run(["losetup", "--find", "--show", "--direct-io=on", self.image]).stdout.strip()
        run(["mkfs.btrfs", "-q", "-f", "-d", "single", "-m", "dup", self.device])
        run(["mount", "-t", "btrfs", self.device, self.mnt])

    def bytes_read(self):
        name = os.path.basename(self.device)
        with open(f"/sys/block/{name}/stat") as f:
            return int(f.read().split()[2]) * 512

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def close(self):
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", self.mnt])
        if self.device:
            subprocess.run(["losetup", "-d", self.device])
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(fs, subvolume, files, file_size):
    """Writes `files` files of `file_size` bytes of incompressible data; returns their paths."""
    run(["btrfs", "-q", "subvolume", "create", fs.path(subvolume)])
    block = os.urandom(1 << 20)
    paths = []
    for index in range(files):
        directory = fs.path(subvolume, f"d{index // 256}")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"f{index}")
        # Unique per file: a header of fresh random bytes, then a rotated shared block.
        with open(path, "wb") as f:
            remaining = file_size
            offset = index * 4099 % len(block)
            f.write(os.urandom(4096))
            remaining -= 4096
            while remaining > 0:
                chunk = (block[offset:] + block[:offset])[:remaining]
                f.write(chunk)
                remaining -= len(chunk)
        paths.append(path)
    run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
    return paths


def read_files(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


def timed(fs, args, **kwargs):
    drop_caches()
    before = fs.bytes_read()
    start = time.monotonic()
    result = subprocess.run(args, text=True, capture_output=True, **kwargs)
    seconds = time.monotonic() - start
    return {"seconds": round(seconds, 3), "device_bytes": fs.bytes_read() - before,
            "status": result.returncode, "stderr": result.stderr[-500:]}


class Scheduler:
    """The loop device's I/O scheduler, set for a `with` block and restored afterwards."""

    def __init__(self, fs, name):
        self.file = f"/sys/block/{os.path.basename(fs.device)}/queue/scheduler"
        self.name = name

    @staticmethod
    def current(fs):
        text = open(f"/sys/block/{os.path.basename(fs.device)}/queue/scheduler").read()
        return text[text.index("[") + 1:text.index("]")]

    def __enter__(self):
        text = open(self.file).read()
        self.previous = text[text.index("[") + 1:text.index("]")]
        if self.name and self.name != self.previous:
            with open(self.file, "w") as f:
                f.write(self.name)
        return self

    def __exit__(self, *exc):
        with open(self.file, "w") as f:
            f.write(self.previous)


def stop_process(process, session=False):
    """Ends a child still running after an interruption (its whole session if it has one)."""
    if process is None or process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):  # politely first
        try:
            if session:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
            process.wait(timeout=10)
            return
        except (OSError, subprocess.TimeoutExpired):
            continue
