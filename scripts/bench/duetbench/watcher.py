"""`duet watch` beside a part, and the status file (watch.json) it writes every --log-interval."""
import json
import os
import signal
import subprocess
import time


class Watch:
    """`duet watch` in the background for the duration of a `with` block."""

    def __init__(self, duet, fs, state):
        self.args = [duet, "watch", "--state-dir", state, "--log-interval", "1", fs.mnt]
        self.state = state

    def __enter__(self):
        status = status_path(self.state)
        if os.path.exists(status):
            os.unlink(status)
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(status):
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        time.sleep(3)  # past the creditor's settle window (1.5 s): pages still inside it are not credited
        self.status = status_file(self.state)[1]  # its last status (events, credits), before it stops and removes it
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def status_path(state):
    return os.path.join(state, "watch.json")


def status_file(state):
    """The watcher's status and the file's identity (a new write replaces it: a new inode)."""
    path = status_path(state)
    try:
        st = os.stat(path)
        with open(path) as f:
            return (st.st_ino, st.st_mtime_ns), json.load(f)
    except (OSError, ValueError):
        return None, None


def next_status(state, after, timeout=5.0):
    """The first status the watcher writes after the one identified by `after` (it writes one
    every --log-interval, 1 s here); the latest one if none comes within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        identity, status = status_file(state)
        if (status is not None and identity != after) or time.monotonic() >= deadline:
            return identity, status
        time.sleep(0.05)
