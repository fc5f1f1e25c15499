"""The scrub part: `btrfs scrub` vs `duet scrub` after the foreground read a fraction of the files."""
import random
import sys

from ..fixtures import drop_caches, read_files, timed
from ..watcher import Watch
from . import FRACTIONS


def bench_scrub(fs, duet, paths, state, rounds, fractions=FRACTIONS):
    rows = []
    for fraction in fractions:
        for _ in range(rounds):
            chosen = random.sample(paths, int(len(paths) * fraction))
            drop_caches()
            with Watch(duet, fs, state):
                read_files(chosen)
            kernel = timed(fs, ["btrfs", "scrub", "start", "-B", fs.mnt])
            duet_run = timed(fs, [duet, "scrub", "start", "--json", "--state-dir", state, fs.mnt])
            rows.append({"fraction": fraction, "kernel": kernel, "duet": duet_run})
            print(f"scrub f={fraction}: kernel {kernel['device_bytes'] >> 20} MiB {kernel['seconds']} s, "
                  f"duet {duet_run['device_bytes'] >> 20} MiB {duet_run['seconds']} s", file=sys.stderr)
    return rows
