"""blkio (cgroup v1) read throttles: a disk-like bandwidth on the loop device, and the share an
ideal idle-class scheduler would leave the maintenance."""
import os
import subprocess
import sys
import time

from .fixtures import run


class Throttle:
    """A blkio (cgroup v1) group with a read limit on the loop device. In the shared contention
    mode the foreground and the maintenance task both run in one group, so they compete for one
    disk-like bandwidth. blk-throttle sits above the I/O scheduler and releases a group's bios in
    arrival order: inside the group the deepest queue gets the most bandwidth, whatever the I/O
    priorities (see `check_ioprio`). cgroup v1 blk-throttle is not hierarchical, so groups are
    made side by side under the root, never nested. `close` always removes the group."""

    ROOT = "/sys/fs/cgroup/blkio"

    def __init__(self, fs, bytes_per_second, name=None):
        self.path = os.path.join(self.ROOT, f"duet-bench-{os.getpid()}" + (f"-{name}" if name else ""))
        self.major_minor = run(["lsblk", "-dno", "MAJ:MIN", fs.device]).stdout.strip()
        self.bandwidth = bytes_per_second  # the device's bandwidth B this group emulates
        self.limit = None
        os.makedirs(self.path, exist_ok=True)
        try:
            self.set_limit(bytes_per_second)
        except BaseException:
            self.close()
            raise

    def set_limit(self, bytes_per_second):
        """The group's read limit; it applies to the bios submitted (or still queued) from now on.
        Never 0: blk-throttle reads 0 as no limit."""
        bytes_per_second = max(int(bytes_per_second), 1)
        if bytes_per_second != self.limit:
            with open(os.path.join(self.path, "blkio.throttle.read_bps_device"), "w") as f:
                f.write(f"{self.major_minor} {bytes_per_second}\n")
            self.limit = bytes_per_second

    def wrap(self, args, ioprio=None):
        """`args` run inside the group (the shell joins it, then execs), optionally under `ionice`."""
        prefix = ["ionice"] + ioprio if ioprio else []
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "throttled"] + prefix + list(args)

    def wrap_counted(self, args, ioprio=None):
        """Like `wrap`, but the shell stays as the parent and prints, last on stderr, the bytes its
        reaped children submitted as read bios (/proc/PID/io read_bytes, which the kernel charges
        to the submitting task and adds to the parent on reaping)."""
        prefix = ["ionice"] + ioprio if ioprio else []
        script = (f'echo $$ > {self.path}/cgroup.procs || exit 1; "$@"; rc=$?; '
                  'echo "read_bytes=$(sed -n "s/^read_bytes: //p" /proc/$$/io)" >&2; exit $rc')
        return ["sh", "-c", script, "throttled"] + prefix + list(args)

    def measured_read_rate(self, fs, megabytes=None):
        """Reads straight from the loop device inside the group (O_DIRECT, so no cache) for about
        3 s at the current limit and returns bytes per second: proof that the limit holds."""
        megabytes = megabytes or max(16, int(self.limit * 3) >> 20)
        start = time.monotonic()
        subprocess.run(self.wrap(["dd", f"if={fs.device}", "of=/dev/null", "bs=1M", f"count={megabytes}", "iflag=direct", "status=none"]),
                       check=True)
        return (megabytes << 20) / (time.monotonic() - start)

    def close(self):
        """Removes the group. Tasks still in it (only after an interruption) move to the root
        group first, so the directory can always go."""
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                try:
                    with open(os.path.join(self.path, "cgroup.procs")) as f:
                        pids = f.read().split()
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        with open(os.path.join(self.ROOT, "cgroup.procs"), "w") as f:
                            f.write(pid)
                    except OSError:
                        pass  # exited meanwhile
                time.sleep(0.1)
        print(f"bench: could not remove {self.path}", file=sys.stderr)


def idle_limit(bandwidth, rate):
    """What an ideal idle-class scheduler leaves the maintenance while the foreground takes
    `rate` of `bandwidth`: the rest, never below 1% of it (blk-throttle reads 0 as no limit)."""
    return max(int(bandwidth - rate), int(bandwidth * 0.01), 64 << 10)
