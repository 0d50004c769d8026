"""A script job that needs no Blender: count the words of one text per task.

Drover runs it once per input file (python3 count_words.py poem_1.txt), in a folder that also holds
the job's constants files (settings.json: how many words to list, which to ignore), and keeps what
it writes under ./run-result, plus what it prints.
"""
import collections
import json
import os
import re
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: count_words.py TEXT_FILE")
    settings = {"top": 5, "ignore": []}
    if os.path.exists("settings.json"):
        with open("settings.json") as f:
            settings.update(json.load(f))
    with open(sys.argv[1], encoding="utf-8") as f:
        words = re.findall(r"[a-z']+", f.read().lower())
    counts = collections.Counter(w for w in words if w not in settings["ignore"])
    top = counts.most_common(settings["top"])
    out_dir = os.environ.get("DROVER_OUTPUT_DIR", "run-result")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "words.json"), "w") as f:
        json.dump({"input": os.path.basename(sys.argv[1]), "words": len(words), "top": top}, f, indent=2)
    print(f"{sys.argv[1]}: {len(words)} words, most common: {', '.join(w for w, _ in top)}")


if __name__ == "__main__":
    main()
