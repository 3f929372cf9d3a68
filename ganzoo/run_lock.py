"""One training process per run directory: `<run>/.lock`.

`RunLock` holds the pid, host, boot id and start time of the process training
into the directory. A second process is refused with a message naming the
first; a lock whose process is gone (same host, pid dead or reused, or the
machine rebooted) is stale and taken over with a warning. Only a local lock is
atomic (`O_EXCL`); an object store has no exclusive create through gfile, so
there the lock is best effort (a check, then a write: two processes starting in
the same second could both take it), with a warning. The file goes through
`tf.io.gfile` (`ganzoo.files`), like the rest of a run directory.
"""

import atexit
import json
import os
import shlex
import socket
import sys
import time

from ganzoo import files
from ganzoo.errors import warn

gfile = files.gfile
LOCK_NAME = ".lock"
_HELD = set()  # lock paths held by this process


class RunLockedError(RuntimeError):
    """Another live process is training into the same run directory."""


# --------------------------------------------------------------------- lock
class RunLock:
    """An exclusive lock on a run directory (`<run>/.lock`, JSON).

    Args:
        model_dir: str. The run directory.

    Example:

    >>> lock = RunLock("runs/dcgan").acquire()   # raises RunLockedError if busy
    >>> lock.release()
    """

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.path = os.path.join(model_dir, LOCK_NAME)

    def check(self):
        """Raises `RunLockedError` if a live process holds the lock; writes nothing."""
        if files.isfile(self.model_dir):
            raise ValueError(f"--model_dir {self.model_dir!r} is a file, not a directory; "
                             "pass a new or existing run directory.")
        blocker = files.file_in_the_way(self.model_dir)
        if blocker:
            raise ValueError(f"--model_dir {self.model_dir!r} cannot be created: {blocker!r} "
                             "is a file. Pass a directory path.")
        holder = files.read_json(self.path)
        if holder is not None and files.abspath(self.path) not in _HELD and _alive(holder):
            raise RunLockedError(self._busy_message(holder))
        return holder

    def acquire(self):
        """Takes the lock (atomically; a stale lock is taken over with a warning)."""
        gfile.makedirs(self.model_dir)
        me = _process_record()
        for _ in range(3):
            if self._create(me):
                _HELD.add(files.abspath(self.path))
                atexit.register(self.release)
                return self
            holder = self.check()
            # This process's own lock, from an earlier run() that raised, is reused quietly.
            if holder is not None and holder.get("pid") != os.getpid():
                warn(f"stale lock on {self.model_dir} ({_describe(holder)} is gone); "
                     "taking it over.")
            files.remove(self.path)
        raise RunLockedError(f"Could not lock {self.model_dir!r}: another process keeps "
                             "taking the lock. Use a different --model_dir.")

    def release(self):
        """Removes the lock if this process holds it."""
        key = files.abspath(self.path)
        if key in _HELD:
            _HELD.discard(key)
            holder = files.read_json(self.path)
            if holder and holder.get("pid") == os.getpid():
                files.remove(self.path)

    def _create(self, record):
        """Writes the lock file unless one exists; False if it does."""
        if files.is_local(self.path):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            return True
        if files.isfile(self.path):
            return False
        warn(f"{self.model_dir} is not on a local file system: its run lock is best effort "
             "(two processes starting at the same moment could both take it).")
        files.write_json(self.path, record)
        return True

    def _busy_message(self, holder):
        return (
            f"Run directory {self.model_dir!r} is in use by {_describe(holder)}. Two runs "
            "cannot train into one directory: wait for it to finish, stop it (kill "
            f"{holder.get('pid')}), or pass a different --model_dir. If that process is "
            f"really gone (e.g. on another host), delete {self.path}."
        )


def _process_record():
    return {"pid": os.getpid(), "host": socket.gethostname(), "boot": _boot_id(),
            "proc_start": _proc_start(os.getpid()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv}


def _describe(holder):
    return (f"pid {holder.get('pid')} on {holder.get('host')} (started "
            f"{holder.get('started')}: {shlex.join(str(a) for a in holder.get('argv', []))})")


def _alive(holder):
    """Whether the lock holder may still run (True when it cannot be checked)."""
    if holder.get("host") != socket.gethostname():
        return True  # another host's process cannot be checked from here
    if holder.get("boot") and holder.get("boot") != _boot_id():
        return False  # the machine rebooted since
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return False  # this process, from a run that ended with an error
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = _proc_start(pid)
    # A recycled pid belongs to a process that started at another time.
    return not (start and holder.get("proc_start") and start != holder["proc_start"])


def _proc_start(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None
