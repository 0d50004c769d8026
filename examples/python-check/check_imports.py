"""What a task's Python can import on this farm: tries each module named in the input file (one a
line), prints where it came from, writes run-result/imports.json, and fails when one is missing.

    npx drover job create -n python-check -s examples/python-check/check_imports.py -i examples/python-check/modules.txt -r --wait
"""
import importlib
import json
import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: check_imports.py MODULES_FILE")
    with open(sys.argv[1]) as f:
        names = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    found, missing = {}, []
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            missing.append(name)
            print(f"{name}: MISSING ({e})")
            continue
        found[name] = getattr(module, "__version__", "?")
        print(f"{name} {found[name]}: {getattr(module, '__file__', '?')}")
    os.makedirs(os.environ.get("DROVER_OUTPUT_DIR", "run-result"), exist_ok=True)
    with open(os.path.join(os.environ.get("DROVER_OUTPUT_DIR", "run-result"), "imports.json"), "w") as f:
        json.dump({"python": sys.executable, "version": sys.version.split()[0], "found": found, "missing": missing}, f, indent=2)
    if missing:
        sys.exit(f"missing: {', '.join(missing)} (apt-get install python3-<name> on the agents, or run the job in an image that has them)")


if __name__ == "__main__":
    main()
