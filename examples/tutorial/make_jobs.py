"""The job generator of the original tutorial: one data file per frame range, job_1_1.txt,
job_2_2.txt, ... Each holds five lines: the project zip's URL, the .blend inside the zip, the first
frame, the last frame, and an optional URL to upload each frame to (empty: none).

    python3 examples/tutorial/make_jobs.py --url http://127.0.0.1:8765/project.zip --blend project/spin.blend --out ~/drover-tutorial/jobs
"""
import argparse
import os


def main():
    parser = argparse.ArgumentParser(description="write one data file per frame range")
    parser.add_argument("--url", required=True, help="where tasks download the zipped project")
    parser.add_argument("--blend", required=True, help="the .blend's path inside the zip")
    parser.add_argument("--start", type=int, default=0, help="ranges start after this frame (default 0)")
    parser.add_argument("--end", type=int, default=10, help="how many ranges (default 10)")
    parser.add_argument("--skip", type=int, default=1, help="frames per range (default 1)")
    parser.add_argument("--upload", default="", help="optional URL each frame is uploaded to")
    parser.add_argument("--out", default="jobs", help="folder for the data files (default ./jobs)")
    args = parser.parse_args()

    directory = os.path.expanduser(args.out)
    os.makedirs(directory, exist_ok=True)
    for i in range(args.start, args.end):
        range_in = i * args.skip + 1
        range_out = (i + 1) * args.skip
        name = f"job_{range_in}_{range_out}.txt"
        with open(os.path.join(directory, name), "w") as f:
            f.write("\n".join([args.url, args.blend, str(range_in), str(range_out), args.upload]) + "\n")
        print("File written: " + name)


if __name__ == "__main__":
    main()
