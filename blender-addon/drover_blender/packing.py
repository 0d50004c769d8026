"""What a render of the open .blend needs, and how it is laid out for the farm.

Every file the scene uses (linked libraries, images and their sequences or UDIM tiles, sounds,
fonts, movie clips, Alembic/USD caches, volumes, simulation cache folders) is found through
Blender's own data, wherever it lives and however its path is written. The project sent to the
farm mirrors the disk below the deepest folder holding them all, so every relative path (the
.blend's, and a linked library's own) still points at the same file on the agent. Absolute paths
in the .blend are written as relative ones in the copy that is sent (see `relative_copy`); the
artist's file keeps its paths.
"""
import glob
import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import bpy

UDIM = re.compile(r"<UDIM>|<UVTILE>", re.IGNORECASE)
HASHES = re.compile(r"#+")


@dataclass
class Dependencies:
    #: absolute path → what uses it ("image 'Wood'")
    files: Dict[str, str] = field(default_factory=dict)
    #: (what, absolute path) for files the scene names that do not exist
    missing: List[Tuple[str, str]] = field(default_factory=list)
    #: datablocks of the .blend itself that name a file by an absolute path
    absolute: List[str] = field(default_factory=list)
    #: files named by an absolute path inside a linked library: the copy sent cannot change those
    library_absolute: List[str] = field(default_factory=list)


def _abspath(path: str, library: Optional["bpy.types.Library"]) -> str:
    return os.path.normpath(bpy.path.abspath(path, library=library))


def _sequence_files(path: str) -> List[str]:
    """Every file of an image sequence whose one frame is `path` (render_0001.png → render_*.png)."""
    folder, name = os.path.split(path)
    m = re.match(r"^(.*?)(\d+)(\.[^.]*)?$", name)
    if not m or not os.path.isdir(folder):
        return [path] if os.path.isfile(path) else []
    head, digits, tail = m.group(1), m.group(2), m.group(3) or ""
    pattern = re.compile(r"^%s\d{%d,}%s$" % (re.escape(head), len(digits), re.escape(tail)))
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if pattern.match(n))


def _pattern_files(path: str) -> List[str]:
    """UDIM tiles (<UDIM>) and hash-numbered frames (cache_####.vdb)."""
    folder, name = os.path.split(path)
    pattern = UDIM.sub("[0-9]" * 4, glob.escape(name))
    pattern = HASHES.sub(lambda m: "[0-9]" * len(m.group(0)), pattern)
    return sorted(glob.glob(os.path.join(glob.escape(folder), pattern)))


def _folder_files(folder: str) -> List[str]:
    found = []
    for here, _dirs, names in os.walk(folder):
        found.extend(os.path.join(here, n) for n in names)
    return sorted(found)


class _Collector:
    def __init__(self) -> None:
        self.deps = Dependencies()
        self.seen: set = set()

    def add(self, what: str, stored: str, library, kind: str = "file", resolved: bool = False) -> None:
        """`stored` is the path as the datablock holds it (relative to `library`, or to the open
        .blend); `resolved` marks one Blender already made absolute (blend_paths), whose owner is unknown."""
        if not stored or stored == "<builtin>":
            return
        absolute = _abspath(stored, library)
        if absolute in self.seen:
            return
        self.seen.add(absolute)
        if not stored.startswith("//") and not resolved:
            if library is None:
                self.deps.absolute.append(f"{what}: {stored}")
            else:
                self.deps.library_absolute.append(f"{what} in {library.filepath}: {stored}")
        if kind == "folder":
            files = _folder_files(absolute) if os.path.isdir(absolute) else []
        elif kind == "sequence":
            files = _sequence_files(absolute)
        elif os.path.isfile(absolute):
            files = [absolute]
        else:
            files = _pattern_files(absolute) if UDIM.search(absolute) or HASHES.search(os.path.basename(absolute)) else []
        if not files:
            self.deps.missing.append((what, absolute))
        for f in files:
            self.deps.files.setdefault(os.path.normpath(f), what)


def _lib(id_) -> Optional["bpy.types.Library"]:
    return getattr(id_, "library", None)


def collect() -> Dependencies:
    """The files the open .blend uses; packed data is inside the .blend already and not listed."""
    c = _Collector()
    for lib in bpy.data.libraries:
        if lib.packed_file is None:
            c.add(f"library '{lib.name}'", lib.filepath, lib.library)
    for img in bpy.data.images:
        if img.source in {"FILE", "SEQUENCE", "MOVIE", "TILED"} and img.filepath and not img.packed_files:
            c.add(f"image '{img.name}'", img.filepath, _lib(img), "sequence" if img.source == "SEQUENCE" else "file")
    for sound in bpy.data.sounds:
        if sound.packed_file is None:
            c.add(f"sound '{sound.name}'", sound.filepath, _lib(sound))
    for font in bpy.data.fonts:
        if font.packed_file is None:
            c.add(f"font '{font.name}'", font.filepath, _lib(font))
    for clip in bpy.data.movieclips:
        c.add(f"movie clip '{clip.name}'", clip.filepath, _lib(clip), "sequence" if clip.source == "SEQUENCE" else "file")
    for cache in bpy.data.cache_files:
        c.add(f"cache file '{cache.name}'", cache.filepath, _lib(cache))
    for volume in getattr(bpy.data, "volumes", []):
        if volume.packed_file is None:
            c.add(f"volume '{volume.name}'", volume.filepath, _lib(volume), "sequence" if volume.is_sequence else "file")
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            what = f"cache of {obj.name} / {mod.name}"
            if mod.type == "FLUID" and mod.fluid_type == "DOMAIN" and mod.domain_settings:
                c.add(what, mod.domain_settings.cache_directory, _lib(obj), "folder")
            point_cache = getattr(mod, "point_cache", None)
            if point_cache is not None and point_cache.use_disk_cache and point_cache.use_external:
                c.add(what, point_cache.filepath, _lib(obj), "folder")
    # Whatever else Blender knows to be a file (sequencer strips, mesh caches, ocean bakes, …).
    for stored, absolute in zip(bpy.utils.blend_paths(absolute=False, packed=False, local=False),
                                bpy.utils.blend_paths(absolute=True, packed=False, local=False)):
        if os.path.normpath(absolute) not in c.seen:
            c.add(f"file '{os.path.basename(stored)}'", absolute, None, "folder" if os.path.isdir(absolute) else "file", resolved=True)
    return c.deps


def project_layout(blend: str, files: Iterable[str]) -> Tuple[str, Dict[str, str]]:
    """The folder the project mirrors (the deepest one holding the .blend and every file) and
    each file's path in the project (POSIX, relative to that folder)."""
    blend = os.path.normpath(os.path.abspath(blend))
    all_files = [blend, *files]
    try:
        root = os.path.commonpath([os.path.dirname(f) for f in all_files])
    except ValueError:
        raise ValueError("the scene uses files on different drives; move them to the drive of the .blend") from None
    return root, {f: os.path.relpath(f, root).replace(os.sep, "/") for f in all_files}


def _local_path_owners():
    """(datablock, attribute) of every path the .blend itself stores, for `relative_copy`.
    Images use filepath_raw: setting it does not reload the image."""
    for lib in bpy.data.libraries:
        if lib.library is None:
            yield lib, "filepath"
    for img in bpy.data.images:
        if img.library is None and img.filepath_raw:
            yield img, "filepath_raw"
    for coll in (bpy.data.sounds, bpy.data.fonts, bpy.data.movieclips, bpy.data.cache_files, getattr(bpy.data, "volumes", [])):
        for id_ in coll:
            if id_.library is None and id_.filepath and id_.filepath != "<builtin>":
                yield id_, "filepath"
    for scene in bpy.data.scenes:
        if scene.library is None and scene.sequence_editor:
            # `strips_all` from Blender 4.4 (`sequences_all` is gone in 5.0).
            editor = scene.sequence_editor
            for strip in getattr(editor, "strips_all", None) or editor.sequences_all:
                if strip.type == "MOVIE":
                    yield strip, "filepath"
                elif strip.type == "IMAGE":
                    yield strip, "directory"


def relative_copy(target: str) -> List[str]:
    """Saves the open scene, as it is now, to `target` with every absolute path written relative
    to the .blend, so that in the mirrored project it names the same file. The open file's paths
    are set back afterwards: each relative path named the very same file, so nothing reloads
    anything else. Returns the absolute paths left (kinds of data this does not know)."""
    changed = []
    try:
        for owner, attr in _local_path_owners():
            stored = getattr(owner, attr)
            if stored and not stored.startswith("//") and os.path.isabs(stored):
                setattr(owner, attr, bpy.path.relpath(stored))
                changed.append((owner, attr, stored))
        bpy.ops.wm.save_as_mainfile(filepath=target, copy=True, relative_remap=False, check_existing=False)
    finally:
        for owner, attr, stored in reversed(changed):
            setattr(owner, attr, stored)
    return [p for p in bpy.utils.blend_paths(absolute=False, packed=False, local=True)
            if p and not p.startswith("//") and os.path.isabs(p) and p not in {c[2] for c in changed}]
