"""CPU tests of tools/measure: everything but the GPU step itself.

    python3 -m unittest discover -s tools/measure -p 'test_*.py' -v
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import measure  # noqa: E402

SCHEMA_TOP = ("id", "source", "quote", "measured_run", "trust", "suspect",
              "run", "measured", "notes", "orig")
ENV = {"gpu_name": "NVIDIA H100 80GB HBM3", "gpu_memory_bytes": 85520809984,
       "torch": "2.5.1", "transformers": "4.47.0", "peft": "0.14.0",
       "bitsandbytes": None, "cuda": "12.4", "driver": "550.54",
       "python": "3.11.7", "host": "box"}


def lora_run(**kw):
    run = {"model": "meta-llama/Llama-3.2-1B", "method": "lora",
           "precision": "bf16-true", "micro_batch": 2, "seq_len": 512,
           "lora": {"r": 16, "targets": ["q", "v"]}}
    run.update(kw)
    return run


def fake_measurement(oom=False):
    return {"phases": {"load": {"allocated": 2 * 2**30, "reserved": 2 * 2**30},
                       "forward": {"allocated": 5 * 2**30, "reserved": 6 * 2**30},
                       "backward": {"allocated": 7 * 2**30, "reserved": 8 * 2**30},
                       "optimizer_step": {"allocated": 3 * 2**30,
                                          "reserved": 8 * 2**30}},
            "process_bytes": 9 * 2**30, "oom": oom, "steps": 3,
            "micro_steps": 1}


class ValidateRun(unittest.TestCase):
    def test_defaults_filled(self):
        r = measure.validate_run({"model": "x/y"})
        self.assertEqual((r["method"], r["precision"], r["optimizer"],
                          r["attention"], r["micro_batch"], r["seq_len"],
                          r["grad_accum"], r["grad_ckpt"]),
                         ("full", "bf16-mixed", "adamw", "sdpa", 1, 512, 1, False))
        self.assertIsNone(r["lora"])

    def test_lora_defaults(self):
        r = measure.validate_run({"model": "x/y", "method": "lora"})
        self.assertEqual(r["lora"], {"r": 8, "alpha": 16, "dropout": 0.0,
                                     "targets": ["q", "v"]})

    def test_errors_name_the_field(self):
        bad = [({"model": "x/y", "method": "ia3"}, "run.method"),
               ({"model": "x/y", "micro_batch": 0}, "run.micro_batch"),
               ({"model": "x/y", "seq_len": "long"}, "run.seq_len"),
               ({"model": "x/y", "seq_len": True}, "run.seq_len"),
               ({"model": "x/y", "grad_ckpt": "offload"}, "run.grad_ckpt"),
               ({"model": "x/y", "optimizer": "adamx"}, "run.optimizer"),
               ({"model": "x/y", "method": "qlora"}, "run.quant"),
               ({"model": "x/y", "parallel": {"n_gpus": 2}}, "n_gpus"),
               ({"model": "x/y", "compile": True}, "run.compile"),
               ({"model": "x/y", "method": "lora",
                 "lora": {"targets": ["qq"]}}, "run.lora.targets"),
               ({"model": "x/y", "method": "lora",
                 "lora": {"dropout": 1.5}}, "run.lora.dropout"),
               ({"model": "x/y", "bogus": 1}, "unknown key"),
               ({"method": "full"}, "run.model"),
               ([], "run:")]
        for run, words in bad:
            with self.assertRaises(measure.RunError, msg=repr(run)) as cm:
                measure.validate_run(run)
            self.assertIn(words, str(cm.exception))


class Dependencies(unittest.TestCase):
    def test_missing_optional_modules(self):
        have = {"torch", "transformers", "peft"}.__contains__
        r = measure.validate_run(lora_run(optimizer="paged-adamw-8bit",
                                          attention="flash2"))
        self.assertEqual(measure.missing_dependencies(r, have),
                         ["bitsandbytes", "flash_attn"])
        r = measure.validate_run(lora_run())
        self.assertEqual(measure.missing_dependencies(r, have), [])
        r = measure.validate_run(lora_run(method="qlora", quant="nf4"))
        self.assertEqual(measure.missing_dependencies(r, have), ["bitsandbytes"])


class Row(unittest.TestCase):
    def row(self, oom=False):
        run = measure.validate_run(lora_run())
        return measure.build_row("measure-x-h100", run, "cfg.json",
                                 fake_measurement(oom), ENV)

    def test_schema_fields(self):
        row = self.row()
        self.assertEqual(tuple(row), SCHEMA_TOP)
        self.assertEqual(row["source"], "measured with tools/measure")
        self.assertEqual(tuple(row["run"]), measure.RUN_KEYS)
        m = row["measured"]
        self.assertEqual(m["metric"], "allocated")
        self.assertEqual(m["bytes"], 7 * 2**30)  # the largest phase peak
        self.assertIsNone(m["also"]["allocated"])  # the primary slot is null
        self.assertEqual(m["also"]["reserved"], 8 * 2**30)
        self.assertEqual(m["also"]["process"], 9 * 2**30)
        self.assertFalse(m["oom"])
        self.assertIn("peak in backward", row["notes"])
        self.assertLess(len(row["notes"]), 300)
        fw = row["run"]["framework"]
        self.assertEqual((fw["name"], fw["torch"], fw["peft"]),
                         ("peft", "2.5.1", "0.14.0"))
        self.assertEqual(row["run"]["gpu"]["name"], "h100-80gb-hbm3")
        self.assertAlmostEqual(row["run"]["gpu"]["memory_gib"],
                               85520809984 / 2**30)
        json.dumps(row)  # serialisable

    def test_oom_row_is_a_lower_bound(self):
        m = self.row(oom=True)["measured"]
        self.assertEqual((m["metric"], m["bytes"], m["oom"]),
                         ("process", ENV["gpu_memory_bytes"], True))

    def test_vramfit_reads_the_row(self):
        """The row goes through `vramfit validate` and is scored."""
        exe = os.environ.get("VRAMFIT") or os.path.join(
            HERE, "..", "..", "build", "vramfit")
        if not os.access(exe, os.X_OK):
            self.skipTest("build/vramfit not built")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rows.jsonl")
            measure.append_row(path, self.row())
            out = subprocess.run([exe, "validate", "--json", path],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            rows = json.loads(out.stdout)["rows"]
            self.assertEqual(len(rows), 1)
            self.assertTrue(rows[0]["scored"], rows[0].get("reason"))
            self.assertEqual(rows[0]["measured_bytes"], 7 * 2**30)


class Append(unittest.TestCase):
    def test_appends_whole_lines(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rows.jsonl")
            with open(path, "w") as f:
                f.write('{"id": "existing"}\n')
            for i in range(3):
                measure.append_row(path, {"id": "r%d" % i})
            with open(path) as f:
                lines = f.read().splitlines()
            self.assertEqual([json.loads(l)["id"] for l in lines],
                             ["existing", "r0", "r1", "r2"])


class Matrix(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(HERE, "matrix.jsonl")) as f:
            self.entries = [json.loads(l) for l in f if l.strip()]

    def test_valid_and_unique(self):
        ids = [e["id"] for e in self.entries]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(ids), 30)
        for e in self.entries:
            measure.validate_run(e["run"])
            self.assertTrue(os.path.isfile(os.path.join(HERE, e["config"])),
                            e["config"])

    def test_covers_the_axes(self):
        runs = [measure.validate_run(e["run"]) for e in self.entries]
        self.assertGreaterEqual(len({r["model"] for r in runs}), 3)
        for key, values in (("method", {"full", "lora"}),
                            ("precision", {"bf16-mixed", "bf16-true"}),
                            ("grad_ckpt", {True, False}),
                            ("attention", {"eager", "sdpa"}),
                            ("optimizer", {"adamw", "sgd", "adafactor"})):
            self.assertLessEqual(values, {r[key] for r in runs}, key)
        self.assertGreaterEqual(len({r["micro_batch"] for r in runs}), 3)
        self.assertGreaterEqual(len({r["seq_len"] for r in runs}), 3)

    def test_generator_reproduces_the_file(self):
        import make_matrix
        self.assertEqual(make_matrix.entries(), self.entries)


class CommandLine(unittest.TestCase):
    def test_usage_errors(self):
        for argv in ([], ["--id", "x"], ["--run", "r.json", "--out", "o"],
                     ["--id", "x", "--out", "o", "--steps", "0"]):
            with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as cm:
                measure.parse_args(argv)
            self.assertEqual(cm.exception.code, 2)

    def test_unknown_matrix_id(self):
        err = io.StringIO()
        with redirect_stderr(err):
            rc = measure.main(["--id", "no-such-run", "--out", os.devnull])
        self.assertEqual(rc, 2)
        self.assertIn("no entry with id 'no-such-run'", err.getvalue())

    def test_skips_without_torch(self):
        """On a machine without torch the run is skipped, saying why."""
        import importlib.util
        if importlib.util.find_spec("torch"):
            self.skipTest("torch is installed here")
        err = io.StringIO()
        with tempfile.TemporaryDirectory() as d, redirect_stderr(err):
            out = os.path.join(d, "rows.jsonl")
            rc = measure.main(["--id", "qwen2-0.5b-full-mixed", "--out", out])
            self.assertFalse(os.path.exists(out))
        self.assertEqual(rc, 4)
        self.assertIn("torch", err.getvalue())
        self.assertIn("not installed", err.getvalue())


if __name__ == "__main__":
    unittest.main()
