"""The send part: `btrfs send` vs `duet send` of a snapshot after part of the live subvolume was read."""
import random
import subprocess
import sys
import time

from ..fixtures import drop_caches, read_files, timed
from . import FRACTIONS


def send_commands(duet, snapshot, has_duet_send, state):
    kernel = ["sh", "-c", f"btrfs send -q '{snapshot}' > /dev/null"]
    # --state-dir: duet send credits what it read from disk to the ledger the scrub reads (the
    # default, /var/lib/duet/<fsid>, is not the benchmark's).
    ours = ["sh", "-c", f"'{duet}' send -q --state-dir '{state}' '{snapshot}' > /dev/null"] if has_duet_send else None
    return kernel, ours


def bench_send(fs, duet, paths, live, snapshot, state, has_duet_send, rounds, fractions=FRACTIONS):
    rows = []
    kernel_cmd, duet_cmd = send_commands(duet, snapshot, has_duet_send, state)
    for fraction in fractions:
        for _ in range(rounds):
            chosen = random.sample(paths, int(len(paths) * fraction))
            kernel = timed(fs, kernel_cmd)
            row = {"fraction": fraction, "kernel": kernel}
            if duet_cmd:
                drop_caches()
                read_files(chosen)  # cached under the live subvolume's inodes
                before = fs.bytes_read()
                start = time.monotonic()
                result = subprocess.run(duet_cmd, text=True, capture_output=True)
                row["duet"] = {"seconds": round(time.monotonic() - start, 3), "device_bytes": fs.bytes_read() - before,
                               "status": result.returncode, "stderr": result.stderr[-500:]}
            rows.append(row)
            print(f"send f={fraction}: kernel {kernel['device_bytes'] >> 20} MiB {kernel['seconds']} s"
                  + (f", duet {row['duet']['device_bytes'] >> 20} MiB {row['duet']['seconds']} s" if duet_cmd else ""),
                  file=sys.stderr)
    return rows
