"""The benchmark's scale part: `btrfs send` against `duet send` of a snapshot of a million small
files and of one of large sparse-ish files, cold cache, side by side in one run, both under
`ulimit -n 1024` (Debian's default). Per snapshot and tool: seconds, peak RSS (wait4 rusage of
the sender itself), bytes read from the loop device; duet's stream is received with stock
`btrfs receive` and the received tree compared with the snapshot (manifest: path, type, mode,
size, content hash, symlink target). Timings go here, never into tests.

Files: half of them 1 KiB (inline in the metadata: `max_inline` is 2048 by default), half
4 KiB (one data extent each), 1,000 to a directory, each with its own bytes. Large data: files
of --scale-gib GiB in total (logical), 1 MiB of data then 1 MiB of hole, alternately.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time

from ..fixtures import LoopBtrfs, drop_caches, run

SMALL_SIZES = (1024, 4096)
PER_DIRECTORY = 1000
DESCRIPTOR_LIMIT = 1024


def make_small_files(root, count):
    """`count` files under `root`, sizes alternating over SMALL_SIZES; returns the data extents made."""
    block = os.urandom(1 << 20)
    extents = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for index in range(count):
        if index % PER_DIRECTORY == 0:
            directory = os.path.join(root, f"d{index // PER_DIRECTORY:05}")
            os.mkdir(directory)
        size = SMALL_SIZES[index % len(SMALL_SIZES)]
        offset = (index * 4099) % (len(block) - 8192)
        # Unique per file: its index up front, then a slice of the shared random block.
        data = index.to_bytes(8, "little") + block[offset:offset + size - 8]
        descriptor = os.open(os.path.join(directory, f"f{index}"), flags, 0o644)
        os.write(descriptor, data)
        os.close(descriptor)
        if size > 2048:
            extents += 1
    return extents


def make_sparse_files(root, total_bytes, file_bytes=1 << 30):
    """Files of `file_bytes` (the last one shorter) alternating 1 MiB of data and 1 MiB of hole."""
    block = os.urandom(1 << 20)
    extents = 0
    made = 0
    index = 0
    while made < total_bytes:
        size = min(file_bytes, total_bytes - made)
        descriptor = os.open(os.path.join(root, f"big{index}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        for position in range(0, size, 2 << 20):
            chunk = index.to_bytes(8, "little") + position.to_bytes(8, "little") + block[16:min(len(block), size - position)]
            os.pwrite(descriptor, chunk, position)
            extents += 1
        os.ftruncate(descriptor, size)
        os.close(descriptor)
        made += size
        index += 1
    return extents


def measured(fs, args, stdout_path="/dev/null"):
    """Runs `args` cold under `ulimit -n 1024`: seconds, peak RSS, device bytes read. The peak RSS
    is /usr/bin/time's (`%M`, the sender's own, through prlimit's exec): a child forked from this
    Python process would count Python's pages too."""
    drop_caches()
    before = fs.bytes_read()
    with tempfile.NamedTemporaryFile("r", prefix="duet-bench-time-") as rss, open(stdout_path, "wb") as out:
        start = time.monotonic()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, "prlimit", f"--nofile={DESCRIPTOR_LIMIT}:{DESCRIPTOR_LIMIT}"]
                                + args, stdout=out, stderr=subprocess.PIPE)
        seconds = time.monotonic() - start
        peak_kib = int(rss.read().split()[-1])
    return {"seconds": round(seconds, 3), "peak_rss_bytes": peak_kib * 1024, "device_bytes": fs.bytes_read() - before,
            "status": result.returncode, "stderr": result.stderr.decode(errors="replace")[-500:]}


def manifest(root):
    """One digest of the tree: every entry's relative path, type, mode, size, content or target."""
    digest = hashlib.sha256()
    entries = 0
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files) + subdirectories:
            path = os.path.join(directory, name)
            status = os.lstat(path)
            digest.update(f"{os.path.relpath(path, root)}\0{status.st_mode:o}\0{status.st_size}\0".encode())
            if os.path.islink(path):
                digest.update(os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            entries += 1
    return digest.hexdigest(), entries


def send_pair(fs, receive_fs, duet, snapshot, name):
    """Both sends of one snapshot, cold, to /dev/null; then duet's again into `btrfs receive`."""
    # --state-dir: duet send credits what it read to a ledger of the benchmark's, not the machine's.
    state = os.path.join(fs.dir, "state")
    kernel = measured(fs, ["btrfs", "send", "-q", snapshot])
    ours = measured(fs, [duet, "send", "-q", "--state-dir", state, snapshot])
    target = receive_fs.path(name)
    os.mkdir(target)
    sender = subprocess.Popen(["prlimit", f"--nofile={DESCRIPTOR_LIMIT}:{DESCRIPTOR_LIMIT}", duet, "send", "-q", "--state-dir", state, snapshot],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    receiver = subprocess.run(["btrfs", "receive", "-q", target], stdin=sender.stdout, capture_output=True, text=True)
    sender.stdout.close()
    sender_stderr = sender.stderr.read().decode(errors="replace")
    sender.wait()
    received = os.path.join(target, os.path.basename(snapshot))
    identical = None
    if sender.returncode == 0 and receiver.returncode == 0:
        expected, entries = manifest(snapshot)
        got, _ = manifest(received)
        identical = expected == got
    else:
        print(f"scale {name}: duet send | btrfs receive failed: {sender_stderr[-300:]} {receiver.stderr[-300:]}", file=sys.stderr)
        entries = None
    subprocess.run(["btrfs", "-q", "subvolume", "delete", received], capture_output=True)
    return {"kernel": kernel, "duet": ours, "received_identical": identical, "entries": entries}


def bench_scale(duet, files, sparse_gib, workdir):
    """The scale part: a million small files, then large sparse-ish data. Returns its report."""
    report = {"files": files, "small_sizes": list(SMALL_SIZES), "sparse_gib": sparse_gib, "descriptor_limit": DESCRIPTOR_LIMIT}
    # Data + metadata (DUP) of the small files with room to spare, and the large data.
    small_gib = max(2.0, files * 12_000 / 2**30)
    fs = LoopBtrfs(small_gib + sparse_gib / 2 + 2, workdir)
    receive_fs = None
    try:
        receive_fs = LoopBtrfs(small_gib + sparse_gib / 2 + 2, workdir)
        for name, make, amount in (("small", make_small_files, files), ("sparse", make_sparse_files, int(sparse_gib * 2**30))):
            if amount <= 0:
                continue
            live = fs.path(name)
            run(["btrfs", "-q", "subvolume", "create", live])
            start = time.monotonic()
            extents = make(live, amount)
            run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
            made = round(time.monotonic() - start, 1)
            snapshot = fs.path(name + ".snap")
            run(["btrfs", "-q", "subvolume", "snapshot", "-r", live, snapshot])
            run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
            print(f"scale {name}: made in {made} s, {extents} data extents", file=sys.stderr)
            row = send_pair(fs, receive_fs, duet, snapshot, name)
            row.update({"data_extents": extents, "seconds_to_make": made})
            k, d = row["kernel"], row["duet"]
            row["time_ratio"] = round(d["seconds"] / max(k["seconds"], 1e-9), 3)
            row["rss_bound_bytes"] = (64 << 20) + 200 * extents
            report[name] = row
            print(f"scale {name}: btrfs send {k['seconds']} s {k['peak_rss_bytes'] >> 20} MiB RSS, duet send {d['seconds']} s "
                  f"{d['peak_rss_bytes'] >> 20} MiB RSS (status {d['status']}), received identical: {row['received_identical']}",
                  file=sys.stderr)
            run(["btrfs", "-q", "subvolume", "delete", snapshot, live])
    finally:
        fs.close()
        if receive_fs:
            receive_fs.close()
    return report
