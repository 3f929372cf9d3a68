"""Where presets are: a name, path or URL resolved to a verified local directory.

A preset is a directory (the shipped ones are `ganzoo/presets/<name>/`):

    model.keras   the whole GAN: G, D and both optimizers with their state, so
                  `ganzoo.from_preset(name)` can `fit` on (fine-tuning)
    config.yaml   the resolved training config (as in a run directory)
    card.json     the model card (see `ganzoo.presets.write_preset`)

Names are the shipped presets and those added with `register_preset(name,
path_or_url)`. A URL names a directory served over HTTP(S): its three files are
downloaded once into `$GANZOO_CACHE_DIR` (default `~/.cache/ganzoo/presets`).
Every load checks `model.keras` against the card's sha256.

This module resolves and verifies; `ganzoo.loading` loads (`from_preset`,
`load_gan`, `load_generator` accept preset names) and `ganzoo.presets` makes and
scores presets. It imports only `ganzoo.files`, so loading a preset never
imports evaluation.
"""

import hashlib
import importlib.resources
import json
import os
import re
import shutil
import urllib.error
import urllib.request

from ganzoo import files

gfile = files.gfile

MODEL_FILE, CARD_FILE, CONFIG_FILE = "model.keras", "card.json", "config.yaml"
PRESET_FILES = (CARD_FILE, CONFIG_FILE, MODEL_FILE)
DOWNLOAD_TIMEOUT = float(os.environ.get("GANZOO_DOWNLOAD_TIMEOUT", "10"))

_REGISTERED = {}  # name -> {"location": local path or URL, "sha256": str or None}


class PresetError(ValueError):
    """A preset is unknown, cannot be fetched, or fails its checksum."""


class UnknownPresetError(PresetError, FileNotFoundError):
    """No preset of that name and no file or directory at that path."""


def builtin_dir():
    """The directory holding the presets shipped inside the package."""
    return str(importlib.resources.files("ganzoo").joinpath("presets"))


def _builtin_names():
    root = builtin_dir()
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root)
                  if os.path.isfile(os.path.join(root, n, CARD_FILE)))


def list_presets(with_cards=False):
    """Names of the shipped and registered presets.

    Args:
        with_cards: bool. Return `{name: card}` instead of names; registered URL
            presets not downloaded yet map to `{"location": url}`.

    Returns:
        A sorted list of names, or a dict of cards.

    Example:

    >>> ganzoo.list_presets()
    ['acgan_digits', 'cgan_digits', 'dcgan_digits', ...]
    """
    names = sorted(set(_builtin_names()) | set(_REGISTERED))
    if not with_cards:
        return names
    cards = {}
    for name in names:
        entry = _REGISTERED.get(name)
        if entry and _is_url(entry["location"]) and not gfile.isdir(_cache_dir(name, entry)):
            cards[name] = {"location": entry["location"]}
        else:
            cards[name] = load_card(name)
    return cards


def register_preset(name, location, sha256=None, overwrite=False):
    """Adds a preset under `name`: a local preset directory or its URL.

    Args:
        name: str. The name to load it by (`from_preset(name)`, `--init_from=name`).
        location: str. A directory with model.keras, card.json and config.yaml
            (see `write_preset`), or an http(s) URL of such a directory.
        sha256: str or None. Expected sha256 of `model.keras`, checked on
            every load in addition to the card's own checksum.
        overwrite: bool. Allow replacing a registered or shipped name.

    Example:

    >>> ganzoo.register_preset("dcgan_mnist", "https://example.org/presets/dcgan_mnist")
    >>> gan = ganzoo.from_preset("dcgan_mnist")
    """
    if not overwrite and (name in _REGISTERED or name in _builtin_names()):
        raise PresetError(f"Preset {name!r} already exists; pass overwrite=True to replace it.")
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha256).lower()):
        raise PresetError(f"register_preset(sha256={sha256!r}): not a sha256 digest; pass the "
                          "64 hex digits of the preset's model.keras (its card.json's "
                          "model_sha256), or leave it out.")
    sha256 = None if sha256 is None else str(sha256).lower()
    location = str(location)
    if not _is_url(location):
        location = files.abspath(os.path.expanduser(location))
    _REGISTERED[name] = {"location": location, "sha256": sha256}


def unregister_preset(name):
    """Removes a preset added with `register_preset` (shipped ones stay)."""
    _REGISTERED.pop(name, None)


def preset_dir(name_or_path, verify=True):
    """The local directory (or `.keras` file) of a preset name, path or URL.

    Registered and shipped names come first, then existing paths, then URLs.
    URL presets are downloaded into the cache on first use.

    Raises:
        PresetError: unknown name (listing the known ones), a failed download
            (naming the URL and how to use a local copy), or a bad checksum.
    """
    name_or_path = os.fspath(name_or_path)
    entry = _REGISTERED.get(name_or_path)
    if entry is None and name_or_path in _builtin_names():
        entry = {"location": os.path.join(builtin_dir(), name_or_path), "sha256": None}
    if entry is None:
        if not _is_url(name_or_path) and files.exists(name_or_path):
            return name_or_path
        if _is_url(name_or_path):
            entry = {"location": name_or_path, "sha256": None}
            name_or_path = name_or_path.rstrip("/").rsplit("/", 1)[-1]
        elif "/" in name_or_path or name_or_path.endswith(".keras"):
            raise UnknownPresetError(
                f"Nothing exists at {name_or_path!r}: no ganzoo run directory or .keras file "
                "there (and it is not a preset name). Check the path; "
                "`python -m ganzoo.train --model_dir=...` makes a run.")
        else:
            raise UnknownPresetError(
                f"Unknown preset {name_or_path!r}: not a shipped or registered preset, and "
                "no ganzoo run directory, .keras file or preset directory exists at that "
                "path. Known presets: "
                f"{', '.join(list_presets()) or '(none)'}. Add your own with "
                "ganzoo.register_preset(name, path_or_url).")
    location = entry["location"]
    if _is_url(location):
        path = _download(name_or_path, location, _cache_dir(name_or_path, entry))
    else:
        path = location
        if not gfile.isdir(path):
            raise PresetError(f"Preset {name_or_path!r} points to {path!r}, which is not a "
                              "directory. It should hold " + ", ".join(PRESET_FILES) + ".")
    if verify:
        verify_preset(path, name_or_path, entry.get("sha256"))
    return path


def load_card(name_or_path):
    """The model card (`card.json`) of a preset as a dict."""
    path = preset_dir(name_or_path, verify=False)
    return json.loads(files.read_text(os.path.join(path, CARD_FILE)))


def verify_preset(path, name=None, expected_sha256=None):
    """Checks `model.keras` against the card's (and the registration's) sha256."""
    name = name or os.path.basename(os.path.normpath(path))
    missing = [f for f in PRESET_FILES if not files.isfile(os.path.join(path, f))]
    if missing:
        raise PresetError(f"Preset {name!r} at {path!r} lacks {', '.join(missing)}; a preset "
                          "directory holds " + ", ".join(PRESET_FILES) + " (see write_preset).")
    card = json.loads(files.read_text(os.path.join(path, CARD_FILE)))
    actual = files.sha256_of_file(os.path.join(path, MODEL_FILE))
    fixes = {"its card.json": (
        "The file is corrupt or was changed: delete it (a download is fetched again) or "
        "re-create the preset (your own: presets.write_preset from its run; a shipped one: "
        "tools/train_presets.py)."),
        "register_preset(sha256=...)": (
            "Either the file is not the one you pinned (fetch it again), or the pinned value "
            "is wrong: the model's own is its card.json's model_sha256.")}
    for source, expected in (("its card.json", card.get("model_sha256")),
                             ("register_preset(sha256=...)", expected_sha256)):
        if expected and expected != actual:
            raise PresetError(
                f"Checksum mismatch for preset {name!r}: {os.path.join(path, MODEL_FILE)} has "
                f"sha256 {actual}, but {source} says {expected}. {fixes[source]}")
    return card


# ------------------------------------------------------------------ downloads
def _is_url(text):
    return isinstance(text, str) and text.startswith(("http://", "https://", "file://"))


def _cache_dir(name, entry):
    root = os.environ.get("GANZOO_CACHE_DIR",
                          os.path.join(os.path.expanduser("~"), ".cache", "ganzoo", "presets"))
    tag = hashlib.sha256(entry["location"].encode()).hexdigest()[:12]
    return os.path.join(root, f"{name}-{tag}")


def _download(name, url, target):
    """Fetches a preset directory's files once; a complete cache is reused offline."""
    if all(files.isfile(os.path.join(target, f)) for f in PRESET_FILES):
        return target
    base = url.rstrip("/") + "/"
    for filename in PRESET_FILES:
        dest = os.path.join(target, filename)
        if files.isfile(dest):
            continue
        try:
            with (urllib.request.urlopen(base + filename, timeout=DOWNLOAD_TIMEOUT) as response,
                  files.atomic_path(dest) as tmp, gfile.GFile(tmp, "wb") as f):
                shutil.copyfileobj(response, f)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise PresetError(
                f"Cannot download preset {name!r} from {base + filename!r} ({reason}). If you "
                f"are offline, copy the preset directory ({', '.join(PRESET_FILES)}) to this "
                f"machine and use it locally: ganzoo.register_preset({name!r}, '/path/to/"
                f"{name}', overwrite=True), or pass the directory to from_preset / "
                "--init_from.") from None
    return target
