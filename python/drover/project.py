"""A render project as the CLI sees one: a .blend file alone, or a folder holding the .blend and
the files it uses (textures, libraries, caches), which keep their paths relative to the folder."""
import os
from typing import List, Optional, Tuple

from .blobs import Source, from_path
from .errors import DroverError

IGNORED_DIRS = {".git", ".svn", ".hg", "__pycache__", "__MACOSX"}
IGNORED_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def _is_backup(name: str) -> bool:
    """Blender's backups (scene.blend1, …) and its temporary save file (scene.blend@)."""
    stem, dot, ext = name.rpartition(".blend")
    return bool(dot) and bool(ext) and (ext.isdigit() or ext == "@")


def _walk(root: str) -> List[Tuple[str, str]]:
    found: List[Tuple[str, str]] = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in files:
            if name in IGNORED_FILES or _is_backup(name):
                continue
            absolute = os.path.join(here, name)
            if os.path.isfile(absolute):
                found.append((os.path.relpath(absolute, root).replace(os.sep, "/"), absolute))
    return sorted(found)


def list_project(project: str, blend: Optional[str] = None) -> Tuple[List[Source], str]:
    """The project's files, hashed, and the project path of the .blend to render."""
    project = os.path.abspath(os.fspath(project))
    if os.path.isfile(project):
        if not project.lower().endswith(".blend"):
            raise DroverError("bad_project", f"{project} is not a .blend file or a folder")
        name = os.path.basename(project)
        return [from_path(name, project)], name
    if not os.path.isdir(project):
        raise DroverError("bad_project", f"project {project} does not exist")
    files = _walk(project)
    blends = [rel for rel, _ in files if rel.lower().endswith(".blend")]
    if blend is not None:
        wanted = os.path.relpath(blend, project).replace(os.sep, "/") if os.path.isabs(blend) else blend.replace("\\", "/")
        matches = [b for b in blends if b == wanted] or [b for b in blends if b.rsplit("/", 1)[-1] == wanted]
        if len(matches) != 1:
            raise DroverError("bad_project", f"blend={blend!r} is not a .blend file of {project}; its .blend files are: {', '.join(blends) or 'none'}")
        chosen = matches[0]
    elif len(blends) == 1:
        chosen = blends[0]
    elif not blends:
        raise DroverError("bad_project", f"no .blend file in {project}")
    else:
        raise DroverError("bad_project", f"{project} has {len(blends)} .blend files; choose one with blend=: {', '.join(blends)}")
    return [from_path(rel, absolute) for rel, absolute in files], chosen
