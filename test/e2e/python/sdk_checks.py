"""Drover's Python SDK against a real farm, run by test/e2e/python-sdk.test.ts with the system's
python3. The farm, the users' CLI sessions and a Blender scene come from the environment:

    DROVER_CONFIG       admin's CLI session (server + token), as `drover login` wrote it
    SDK_OTHER_CONFIG    another user's CLI session
    SDK_SCENE_DIR       a render project (scene.blend, textures/checker.png), frames 1-2
"""
import hashlib
import json
import os
import tempfile
import unittest

import drover

SQUARE = """
import os, sys
n = int(open(sys.argv[1]).read())
offset = int(open('offset.txt').read())
os.makedirs('run-result', exist_ok=True)
open('run-result/out.txt', 'w').write(str(n * n + offset))
print('squared', n)
"""

SLOW = """
import sys, time
for i in range(3):
    print('line', i, flush=True)
    time.sleep(0.5)
"""


TEMPLATE = """
specificationVersion: jobtemplate-2023-09
name: "count to {{Param.Count}}"
parameterDefinitions:
  - {name: Count, type: INT, default: 2}
  - {name: Suffix, type: STRING, default: ""}
  - {name: Words, type: PATH, objectType: DIRECTORY, dataFlow: IN, default: words}
  - {name: Out, type: PATH, objectType: DIRECTORY, dataFlow: OUT, default: out}
steps:
  - name: Each
    parameterSpace:
      taskParameterDefinitions: [{name: N, type: INT, range: "1-{{Param.Count}}"}]
    script:
      actions:
        onRun: {command: bash, args: ["-c", "echo $(cat {{Param.Words}}/w.txt){{Task.Param.N}}{{Param.Suffix}} > {{Param.Out}}/n{{Task.Param.N}}.txt"]}
  - name: Join
    dependencies: [{dependsOn: Each}]
    script:
      actions:
        onRun: {command: bash, args: ["-c", "cat {{Param.Out}}/n*.txt > {{Param.Out}}/all.txt"]}
"""


def other_client() -> drover.Client:
    with open(os.environ["SDK_OTHER_CONFIG"], encoding="utf-8") as f:
        session = json.load(f)
    return drover.Client(server=session["server"] if "server" in session else os.environ["DROVER_SERVER"], token=session["token"])


class SdkTest(unittest.TestCase):
    client: drover.Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = drover.Client()  # nothing given: the CLI's session

    def test_client_reads_the_cli_session(self) -> None:
        self.assertEqual(self.client.me()["name"], "admin")
        self.assertEqual(self.client.server, os.environ["DROVER_SERVER"].rstrip("/"))

    def test_script_job_from_python_values_waited_on_and_downloaded(self) -> None:
        inputs = {"n2.txt": "2", "n10.txt": "10", "n3.txt": b"3"}
        job = self.client.submit_script(name="squares", script={"square.py": SQUARE}, inputs=inputs, constants={"offset.txt": "5"})
        self.assertEqual(job.task_count, 3)
        self.assertEqual(job.wait(timeout=120), "done")
        self.assertEqual(job.status, "done")
        self.assertEqual(job.counts["done"], 3)
        tasks = job.tasks()
        self.assertEqual([t.input for t in tasks], ["n2.txt", "n10.txt", "n3.txt"], "inputs run in the order given")
        self.assertTrue(all(t.status == "done" and t.exit_code == 0 for t in tasks))
        self.assertIn("squared 10", job.logs(task=2))
        self.assertNotIn("squared 3", job.logs(task=2))
        self.assertIn("[task 3] squared 3", job.logs())
        self.assertIn("squared 2", job.logs(task=tasks[0].id))
        with tempfile.TemporaryDirectory() as out:
            root = job.download_results(out)
            self.assertEqual(root, os.path.join(out, job.id))
            got = [open(os.path.join(root, f"task-000{i}", "out.txt")).read() for i in (1, 2, 3)]
            self.assertEqual(got, ["9", "105", "14"])
            self.assertIn("squared 2", open(os.path.join(root, "task-0001", "stdout.txt")).read())
            index = json.load(open(os.path.join(root, "index.json")))
            self.assertEqual(index["jobId"], job.id)
            for f in index["files"]:
                data = open(os.path.join(root, *f["path"].split("/")), "rb").read()
                self.assertEqual(hashlib.sha256(data).hexdigest(), f["sha256"])
            self.assertFalse([p for _, _, files in os.walk(root) for p in files if p.endswith(".part")])

    def test_script_job_from_files_created_then_started(self) -> None:
        with tempfile.TemporaryDirectory() as ws:
            paths = []
            for name, content in (("square.py", SQUARE), ("offset.txt", "1"), ("a.txt", "4")):
                with open(os.path.join(ws, name), "w") as f:
                    f.write(content)
                paths.append(os.path.join(ws, name))
            job = self.client.submit_script(name="from files", script=paths[0], inputs=[paths[2]], constants=[paths[1]],
                                            run=False, max_attempts=2, timeout=60, instance_type="s", priority=70)
        self.assertEqual(job.status, "created")
        self.assertEqual(job.data["maxAttempts"], 2)
        self.assertEqual(job.data["priority"], 70)
        self.assertEqual(job.start().status, "queued")
        self.assertEqual(job.wait(timeout=120), "done")
        self.assertEqual(job.refresh().status, "done")
        self.assertEqual(sorted(f["path"] for f in job.results()["files"]), ["task-0001/out.txt", "task-0001/stderr.txt", "task-0001/stdout.txt"])
        self.assertIn(job.id, [j.id for j in self.client.jobs(status="done")])
        self.assertEqual(self.client.job(job.id).name, "from files")

    def test_template_bundle_with_an_input_folder_and_yaml_values(self) -> None:
        with tempfile.TemporaryDirectory() as bundle:
            with open(os.path.join(bundle, "template.yaml"), "w") as f:
                f.write(TEMPLATE)
            with open(os.path.join(bundle, "parameter_values.yaml"), "w") as f:
                f.write("parameterValues:\n  - name: Count\n    value: 3\n  - name: deadline:priority\n    value: 70\n")
            os.makedirs(os.path.join(bundle, "words"))
            with open(os.path.join(bundle, "words", "w.txt"), "w") as f:
                f.write("hey")
            job = self.client.submit_template(bundle, {"Suffix": "!"}, priority=20)
            self.assertEqual(job.data["priority"], 20)
            self.assertEqual(job.name, "count to 3")
            self.assertEqual(job.wait(timeout=120), "done")
            self.assertEqual(job.counts["done"], 4)
            with tempfile.TemporaryDirectory() as out:
                root = job.download_results(out)
                with open(os.path.join(root, "outputs", "Out", "all.txt")) as f:
                    self.assertEqual(f.read(), "hey1!\nhey2!\nhey3!\n")
        with self.assertRaises(drover.DroverError) as bad:
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "t.yaml"), "w") as f:
                    f.write("specificationVersion: jobtemplate-2023-09\nname: x\nsteps:\n  - name: A\n    dependencies: [{dependsOn: Z}]\n    script: {actions: {onRun: {command: 'true'}}}\n")
                self.client.submit_template(os.path.join(d, "t.yaml"))
        self.assertEqual(bad.exception.code, "invalid_request")
        self.assertIn('depends on "Z"', str(bad.exception))

    def test_follow_logs_yields_the_live_log_until_the_task_ends(self) -> None:
        job = self.client.submit_script(name="slow", script={"slow.py": SLOW}, inputs={"one.txt": ""})
        entries = list(job.follow_logs())
        text = "".join(e.data for e in entries if e.stream == "stdout")
        self.assertEqual(text, "line 0\nline 1\nline 2\n")
        self.assertTrue(all(e.task == 1 for e in entries))
        self.assertEqual(job.wait(timeout=60), "done")

    def test_stop_then_retry(self) -> None:
        job = self.client.submit_script(name="stopped", script={"slow.py": SLOW}, inputs={"a.txt": "", "b.txt": ""})
        self.assertEqual(job.stop().status, "canceled")
        self.assertEqual(job.wait(timeout=60), "canceled")
        retried = job.retry()
        self.assertIn(retried.status, ("queued", "running"))
        self.assertEqual(job.wait(timeout=120), "done")
        self.assertEqual(job.counts["done"], 2)

    def test_wait_with_a_timeout_raises_timeout(self) -> None:
        job = self.client.submit_script(name="never started", script={"slow.py": SLOW}, inputs={"a.txt": ""}, run=False)
        with self.assertRaises(drover.DroverError) as caught:
            job.wait(timeout=0.3)
        self.assertEqual(caught.exception.code, "timeout")

    def test_render_job_of_a_project_folder(self) -> None:
        project = os.environ["SDK_SCENE_DIR"]
        job = self.client.submit_render(project, chunk=2)  # frames: the scene's own range, read with Blender
        self.assertEqual(job.kind, "render")
        self.assertEqual(job.name, "scene")
        self.assertEqual(job.data["render"]["frames"], "1-2")
        self.assertEqual(job.task_count, 1)
        self.assertEqual(job.wait(timeout=300), "done", job.logs())
        with tempfile.TemporaryDirectory() as out:
            root = job.download_results(out)
            frames = sorted(os.listdir(os.path.join(root, "frames")))
            self.assertEqual([f for f in frames if f.endswith(".png")], ["frame_00001.png", "frame_00002.png"])
            with open(os.path.join(root, "frames", "frame_00001.png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_errors_carry_the_api_code(self) -> None:
        with self.assertRaises(drover.DroverError) as caught:
            self.client.job("j_doesnotexist")
        self.assertEqual((caught.exception.code, caught.exception.status), ("not_found", 404))
        self.assertIn("j_doesnotexist", caught.exception.message)

        with self.assertRaises(drover.DroverError) as caught:
            drover.Client(token="not-a-token").jobs()
        self.assertEqual((caught.exception.code, caught.exception.status), ("unauthorized", 401))

        with self.assertRaises(drover.DroverError) as caught:
            self.client.submit_render(os.environ["SDK_SCENE_DIR"], frames="10-1")
        self.assertEqual((caught.exception.code, caught.exception.status), ("invalid_request", 400))
        self.assertIn("10-1", caught.exception.message)

        with self.assertRaises(drover.DroverError) as caught:
            self.client.submit_script(name="x", script="/nonexistent/script.py", inputs={"a": "1"})
        self.assertEqual(caught.exception.code, "missing_file")

        with self.assertRaises(drover.DroverError) as caught:
            self.client.submit_script(name="held", script={"s.py": "print(1)"}, inputs={"a.txt": ""}, run=False).logs(task=0)
        self.assertEqual(caught.exception.code, "not_found")

        with self.assertRaises(drover.DroverError) as caught:
            drover.Client(server="http://127.0.0.1:9", token="t").jobs()
        self.assertEqual(caught.exception.code, "unreachable")

    def test_upload_reports_progress_and_can_be_canceled(self) -> None:
        import threading
        from drover.blobs import from_value

        big = from_value("big.bin", os.urandom(8 * 1024 * 1024))
        cancel = threading.Event()
        seen = []

        def progress(sent: int, total: int) -> None:
            seen.append((sent, total))
            if sent > 0:
                cancel.set()  # as the add-on's Cancel button does, mid-upload

        with self.assertRaises(drover.DroverError) as caught:
            self.client.upload([big], progress=progress, cancel=cancel)
        self.assertEqual(caught.exception.code, "canceled")
        self.assertEqual(seen[0], (0, big.size))
        self.assertLess(seen[-1][0], big.size)
        # Nothing half stored: the farm still lacks the file, and a full upload then goes through.
        lacking = self.client._http.json("POST", "/blobs/missing", {"hashes": [big.sha256]})["missing"]
        self.assertEqual(lacking, [big.sha256])
        seen.clear()
        self.assertEqual([s.name for s in self.client.upload([big], progress=lambda sent, total: seen.append((sent, total)))], ["big.bin"])
        self.assertEqual(seen[-1], (big.size, big.size))
        self.assertEqual(self.client.upload([big]), [], "a file the farm has is not sent again")

    def test_another_user_cannot_see_the_job(self) -> None:
        job = self.client.submit_script(name="private", script={"s.py": "print(1)"}, inputs={"a.txt": ""}, run=False)
        other = other_client()
        self.assertNotIn(job.id, [j.id for j in other.jobs()])
        with self.assertRaises(drover.DroverError) as caught:
            other.job(job.id)
        self.assertEqual(caught.exception.code, "not_found")


if __name__ == "__main__":
    unittest.main(verbosity=2)
