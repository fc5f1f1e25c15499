"""The pair part: send then scrub after a 50% foreground read, stock pair vs Duet pair."""
import random
import subprocess

from ..fixtures import drop_caches, read_files
from ..watcher import Watch
from .send import send_commands


def bench_pair(fs, duet, paths, snapshot, state, has_duet_send):
    """Send then scrub after a 50% foreground read: stock pair vs Duet pair (device bytes)."""
    chosen = random.sample(paths, len(paths) // 2)
    kernel_send, duet_send = send_commands(duet, snapshot, has_duet_send, state)
    drop_caches()
    read_files(chosen)
    before = fs.bytes_read()
    subprocess.run(kernel_send, capture_output=True)
    subprocess.run(["btrfs", "scrub", "start", "-B", fs.mnt], capture_output=True)
    stock = fs.bytes_read() - before
    result = {"stock_bytes": stock}
    if duet_send:
        drop_caches()
        with Watch(duet, fs, state):
            read_files(chosen)
            before = fs.bytes_read()
            subprocess.run(duet_send, capture_output=True)
        subprocess.run([duet, "scrub", "start", "--state-dir", state, fs.mnt], capture_output=True)
        result["duet_bytes"] = fs.bytes_read() - before
    return result
