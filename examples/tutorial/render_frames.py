"""The task script of the original tutorial, in Drover's words: read a data file written by
make_jobs.py, download the zipped Blender project over HTTP, unzip it, render its frame range into
./run-result (Drover collects what is there), and optionally upload each frame.

Drover runs it once per data file: python3 render_frames.py job_3_3.txt. It needs the network
(script tasks have it unless their job says --no-network) and Blender on the agent (or in the
job's container image). Only the standard library, so any python3 runs it.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

OUT_DIR = os.environ.get("DROVER_OUTPUT_DIR", "run-result")


def read_data_file(path):
    with open(path) as f:
        lines = [line.rstrip("\n") for line in f]
    lines += [""] * (5 - len(lines))
    url, blend, first, last, upload = lines[:5]
    if not url or not blend or not first or not last:
        sys.exit(f"{path}: expected 5 lines (zip URL, .blend inside it, first frame, last frame, upload URL or empty)")
    return url, blend, int(first), int(last), upload


def fetch_project(url, into):
    """Downloads and unzips the project; fails loudly, unlike `wget -q` in the original."""
    archive = os.path.join(into, "project.zip")
    print("Processing " + url, flush=True)
    with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
        shutil.copyfileobj(response, out)
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            if name.startswith("/") or ".." in name.split("/"):
                sys.exit(f"refusing a zip entry outside the project: {name}")
        z.extractall(into)


def run_blender(blend_path, first, last):
    blender = os.environ.get("BLENDER") or shutil.which("blender")
    if not blender:
        sys.exit("blender is not installed on this agent (apt-get install blender, or run the job in an image with Blender)")
    os.makedirs(OUT_DIR, exist_ok=True)
    out_path = os.path.join(os.path.abspath(OUT_DIR), "frame_#####")
    command = [blender, "-b", blend_path, "-x", "1", "-o", out_path, "-f", f"{first}..{last}"]
    start = time.time()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print("Execution Time: " + str(round(time.time() - start, 2)))
    if result.returncode != 0:
        print(result.stdout[-4000:])
        sys.exit(f"blender failed with exit code {result.returncode}")


def upload_frames(url):
    import requests  # only needed for uploads: Debian's python3-requests (scripts/setup.sh installs it)

    for name in sorted(os.listdir(OUT_DIR)):
        print("Uploading to Server..." + name, flush=True)
        with open(os.path.join(OUT_DIR, name), "rb") as f:
            requests.post(url, files={"userfile": (name, f)}, timeout=60).raise_for_status()


def main():
    if len(sys.argv) < 2:
        sys.exit("please provide a Blender batch script file to start")
    url, blend, first, last, upload = read_data_file(sys.argv[1])
    work = tempfile.mkdtemp(prefix="project-")
    fetch_project(url, work)
    blend_path = os.path.join(work, blend)
    if not os.path.isfile(blend_path):
        sys.exit(f"the zip has no {blend}")
    run_blender(blend_path, first, last)
    if upload:
        upload_frames(upload)
    shutil.rmtree(work, ignore_errors=True)
    print("Blender Processing Completed")


if __name__ == "__main__":
    main()
