"""Files through `tf.io.gfile`, so a run directory can be on any TensorFlow file system.

Local paths, `gs://` (built into TensorFlow), `s3://` and `hdfs://` (with
tensorflow-io) and `ram://` (TensorFlow's in-memory file system, which the
tests train into) all work the same way. How safe a write is depends on the
file system:

- **Local**: `atomic_path` writes under a temporary name beside the target
  (`.tmp-<name>`), fsyncs it, renames it over the target (POSIX `rename`:
  atomic) and fsyncs the directory, so a crash or power cut leaves the old file
  or the new one, never part of one.
- **Object stores** (GCS, S3): an object becomes visible only once fully
  uploaded, so readers never see a truncated file either; the rename is a copy
  and a delete, and a crash between the two leaves a `.tmp-*` file that the
  next run deletes (`run_dir.remove_temporary_files`). There is no fsync.

`ram://` keeps one flat map of paths and lists and stats them by bare prefix
(`tsl/platform/ram_file_system.h`): `assets.extra/x` shows up in `assets/` as a
child `.extra`, so `tf.io.gfile.rmtree` and `walk` trip over it, and a
directory rename moves none of its files. `move` and `remove` therefore find
a tree's files with `glob`, one level at a time, never by listing
(`tests/test_gfile_run_dir.py` fails once TensorFlow fixes this).

Example:

>>> with atomic_path("gs://bucket/run/model.keras") as tmp:
...     gan.save(tmp)
>>> write_json("gs://bucket/run/report.json", {"fid": 12.5})
"""

import contextlib
import hashlib
import json
import os

import tensorflow as tf

gfile = tf.io.gfile
TMP_PREFIX = ".tmp-"


def is_local(path):
    """Whether `path` is on the local file system (has no `scheme://`)."""
    return "://" not in os.fspath(path)


def abspath(path):
    """`os.path.abspath` of a local path; another file system's URL unchanged."""
    path = os.fspath(path)
    return os.path.abspath(path) if is_local(path) else path


def exists(path):
    """`tf.io.gfile.exists`, but False (not an error) for a scheme TensorFlow lacks (`foo://`)."""
    try:
        return gfile.exists(path)
    except tf.errors.UnimplementedError:
        return False


def file_in_the_way(path):
    """The nearest existing ancestor of `path` if it is a file (so `path` cannot be
    created there), else None. Stops at the first ancestor that exists."""
    parent = os.path.dirname(os.fspath(path).rstrip("/"))
    while parent and parent != os.path.dirname(parent) and not exists(parent):
        parent = os.path.dirname(parent)
    return parent if parent and isfile(parent) else None


def isfile(path):
    """Whether `path` exists and is not a directory."""
    return exists(path) and not gfile.isdir(path)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`, renamed over `path` when the block ends.

    The temporary name keeps `path`'s extension (`model.save` needs `.keras`)
    and is deleted if the block raises. A directory works too, if `path`
    does not exist when the block ends (see `move`).

    Args:
        path: str. The file (or directory) to write.

    Yields:
        str. `<directory>/.tmp-<name>`: write it completely inside the block.
    """
    path = os.fspath(path).rstrip("/") or os.fspath(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, TMP_PREFIX + name)
    if directory:
        gfile.makedirs(directory)
    remove(tmp)  # a leftover of a crashed write
    try:
        yield tmp
        fsync(tmp)
        move(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    fsync(directory or os.curdir)


def move(source, target):
    """Renames a file over `target`, or a directory to a `target` that does not exist.

    A local rename is atomic. Elsewhere a directory is copied file by file, then
    deleted: a directory rename is not portable across TensorFlow file systems
    (`ram://` moves none of its files; S3 through tensorflow-io fails,
    tensorflow/io#1816; the modular file system API forbids it,
    tensorflow/tensorflow#45936), and on object stores it is a copy per object
    anyway. Deepest files go first, so a SavedModel's `saved_model.pb` appears
    after its variables.
    """
    if is_local(source) or not gfile.isdir(source):
        gfile.rename(source, target, overwrite=True)
        return
    for path in reversed(_tree(source)):
        if isfile(path):
            destination = target + path[len(source):]
            gfile.makedirs(os.path.dirname(destination))
            gfile.copy(path, destination, overwrite=True)
    remove(source)


def atomic_write(path, data):
    """Writes `data` (str or bytes) to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        with gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return path


def write_json(path, value, default=str):
    """Writes `value` as indented JSON, atomically; `default` converts other types."""
    return atomic_write(path, json.dumps(value, indent=2, default=default) + "\n")


def read_json(path):
    """The JSON value in `path`; None if the file is missing, unreadable or not JSON."""
    try:
        with gfile.GFile(path) as f:
            return json.load(f)
    except (tf.errors.OpError, OSError, ValueError):
        return None


def read_text(path):
    """The text of a file (raises `tf.errors.NotFoundError` if it is missing)."""
    with gfile.GFile(path) as f:
        return f.read()


def sha256_of_file(path):
    """Hex sha256 of a file, read in 1 MB chunks.

    Args:
        path: str or path-like, on any TensorFlow file system.

    Returns:
        str. 64 hex digits.
    """
    digest = hashlib.sha256()
    with gfile.GFile(os.fspath(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(source, target):
    """Puts `source`'s bytes at `target`: a hard link locally (no copy), else a copy."""
    if is_local(source) and is_local(target):
        try:
            os.link(source, target)
            return target
        except OSError:  # a file system without hard links
            pass
    gfile.copy(source, target, overwrite=True)
    return target


def remove(path):
    """Deletes a file or a directory tree; nothing if it does not exist."""
    try:
        if isfile(path):
            gfile.remove(path)
        elif os.fspath(path).startswith("ram://"):
            _remove_ram_tree(path)
        elif gfile.isdir(path):
            gfile.rmtree(path)
    except tf.errors.NotFoundError:
        pass


def _remove_ram_tree(directory):
    # By name, deepest first: ram:// directories are entries of its map too (when made).
    for entry in reversed([directory, *_tree(directory)]):
        try:
            gfile.remove(entry)
        except tf.errors.NotFoundError:
            pass


def _tree(directory):
    """Every path under `directory`, one level after the other (by glob, not by listing)."""
    found, pattern = [], os.fspath(directory).rstrip("/")
    while level := gfile.glob(pattern := pattern + "/*"):
        found += level
    return found


def fsync(path):
    """Flushes a local file or directory to disk; a no-op on other file systems."""
    if not is_local(path):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory
    finally:
        os.close(fd)
