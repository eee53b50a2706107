"""Tests of tools/measure that need no torch and no GPU.

Run: python3 -m unittest discover -s tools/measure -p 'test_*.py' -v
"""

import contextlib
import datetime
import io
import json
import subprocess
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import measure  # noqa: E402

MATRIX = os.path.join(HERE, "matrix.jsonl")
SCHEMA = os.path.join(HERE, "..", "..", "tests", "data", "calibration", "SCHEMA.md")


def first_entry(pred=lambda e: True):
    return next(e for e in measure.load_matrix(MATRIX) if pred(e))


def fake_measurement(oom=False):
    return {"oom": oom, "allocated": None if oom else 3_000_000_000,
            "reserved": None if oom else 3_500_000_000, "process": None if oom else 4_000_000_000,
            "process_method": "nvml own pid", "peak_phase": "backward",
            "phases": {"load": {"allocated": 1, "reserved": 2, "process": 3}}, "steps": 3,
            "error": "CUDA out of memory. Tried to allocate 2 GiB" if oom else None}


FAKE_ENV = {"gpu_name": "NVIDIA H100 80GB HBM3", "gpu_memory_bytes": 81559 * 2**20,
            "torch": "2.5.1+cu124", "cuda": "12.4", "driver": "550.54.15",
            "transformers": "4.46.0", "peft": "0.13.2", "bitsandbytes": None,
            "flash_attn": None, "python": "3.11.9"}


def run_main(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = measure.main(argv)
    return rc, out.getvalue(), err.getvalue()


class SchemaKeys(unittest.TestCase):
    """The key lists in measure.py are the ones SCHEMA.md documents."""

    def test_run_keys_match_schema_md(self):
        with open(SCHEMA, encoding="utf-8") as f:
            text = f.read()
        section = text.split("## `run`", 1)[1].split("### Methods", 1)[0]
        keys = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
        self.assertEqual(keys, measure.RUN_KEYS)
        top = text.split("## Top-level object", 1)[1].split("## `run`", 1)[0]
        self.assertEqual(re.findall(r"^\| `([a-z_]+)` \|", top, re.M), measure.ROW_KEYS)

    def test_enums_match_schema_md(self):
        with open(SCHEMA, encoding="utf-8") as f:
            text = f.read()
        def first_cells(start, end):
            section = text.split(start, 1)[1].split(end, 1)[0]
            found = set()
            for cell in re.findall(r"^\| (`[^|]+) \|", section, re.M):
                found.update(re.findall(r"`([a-z0-9_-]+)`", cell))
            return found
        self.assertEqual(first_cells("### Optimizers", "### `lora`"), measure.OPTIMIZERS)
        self.assertEqual(first_cells("### Precision", "Rules:"), measure.PRECISIONS)
        self.assertEqual(first_cells("### Methods", "### Precision"), measure.METHODS)


class RunValidation(unittest.TestCase):
    def setUp(self):
        self.run = json.loads(json.dumps(first_entry(lambda e: e["run"]["method"] == "lora")["run"]))

    def assertRejected(self, pattern):
        with self.assertRaisesRegex(measure.RunError, pattern):
            measure.validate_run(self.run)

    def test_valid_run_passes(self):
        self.assertIs(measure.validate_run(self.run), self.run)

    def test_missing_and_unknown_keys(self):
        del self.run["seq_len"]
        self.assertRejected("missing key.*seq_len")
        self.run["seq_len"] = 512
        self.run["batch"] = 1
        self.assertRejected("unknown key.*batch")

    def test_bad_enum(self):
        self.run["precision"] = "bf16"
        self.assertRejected("run.precision")

    def test_bool_is_not_an_int(self):
        self.run["micro_batch"] = True
        self.assertRejected("run.micro_batch")
        self.run["micro_batch"] = 0
        self.assertRejected("run.micro_batch")

    def test_lora_required_for_lora_method(self):
        self.run["lora"] = None
        self.assertRejected("run.lora: required")

    def test_lora_targets_canonical(self):
        self.run["lora"]["targets"] = ["v", "q"]
        self.assertRejected("canonical order")
        self.run["lora"]["targets"] = ["q_proj"]
        self.assertRejected("run.lora.targets")

    def test_nested_objects_checked(self):
        self.run["parallel"]["strategy"] = "deepspeed"
        self.assertRejected("run.parallel.strategy")
        self.run["parallel"]["strategy"] = "single"
        self.run["framework"]["name"] = "pytorch"
        self.assertRejected("run.framework.name")

    def test_check_measurable(self):
        measure.check_measurable(self.run)
        for key, value, pattern in [("quant", "nf4", "quantized"), ("compile", True, "compile"),
                                    ("grad_ckpt", "offload", "offloaded"),
                                    ("loss", "chunked", "loss chunked"),
                                    ("attention", "flex", "flex")]:
            r = json.loads(json.dumps(self.run))
            r[key] = value
            with self.assertRaisesRegex(measure.Skip, pattern):
                measure.check_measurable(r)
        r = json.loads(json.dumps(self.run))
        r["parallel"]["n_gpus"] = 8
        with self.assertRaisesRegex(measure.Skip, "single-GPU"):
            measure.check_measurable(r)


class Dependencies(unittest.TestCase):
    def test_missing_torch_skips(self):
        run = first_entry()["run"]
        with self.assertRaisesRegex(measure.Skip, "^torch not installed$"):
            measure.require_modules(run, have=lambda n: False)

    def test_bitsandbytes_optimizer_needs_bitsandbytes(self):
        run = json.loads(json.dumps(first_entry()["run"]))
        run["optimizer"] = "adamw-8bit"
        with self.assertRaisesRegex(measure.Skip, "^bitsandbytes not installed$"):
            measure.require_modules(run, have=lambda n: n != "bitsandbytes")
        run["optimizer"] = "adamw"
        measure.require_modules(run, have=lambda n: n != "bitsandbytes")

    def test_lora_needs_peft_and_flash2_needs_flash_attn(self):
        run = json.loads(json.dumps(first_entry(lambda e: e["run"]["method"] == "lora")["run"]))
        with self.assertRaisesRegex(measure.Skip, "peft not installed"):
            measure.require_modules(run, have=lambda n: n != "peft")
        run["attention"] = "flash2"
        with self.assertRaisesRegex(measure.Skip, "flash_attn not installed"):
            measure.require_modules(run, have=lambda n: n != "flash_attn")

    def test_backend_is_not_imported_without_torch(self):
        # Importing measure must not import torch or the backend.
        self.assertNotIn("_torch_backend", sys.modules)
        self.assertNotIn("torch", sys.modules)


class Matrix(unittest.TestCase):
    def setUp(self):
        self.entries = measure.load_matrix(MATRIX)
        self.runs = [e["run"] for e in self.entries]

    def test_size_and_models(self):
        self.assertGreaterEqual(len(self.entries), 45)
        models = {r["model"] for r in self.runs}
        self.assertGreaterEqual(len(models), 3)
        sizes = sorted(r["params_b"] for r in self.runs)
        self.assertLessEqual(sizes[0], 0.5)
        self.assertGreaterEqual(sizes[-1], 8)

    def test_ids_unique_and_every_line_parses(self):
        with open(MATRIX, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), len(self.entries))
        ids = [json.loads(line)["id"] for line in lines]
        self.assertEqual(len(ids), len(set(ids)))

    def test_configs_exist_and_name_the_model(self):
        for e in self.entries:
            self.assertTrue(os.path.isfile(e["config"]), e["config"])
            self.assertEqual(os.path.basename(e["config"]),
                             e["run"]["model"].replace("/", "__") + ".json")
            cfg = measure.load_model_config(e["config"])
            self.assertIn("vocab_size", cfg)

    def test_covers_required_axes(self):
        def values(key):
            return {r[key] for r in self.runs}
        self.assertTrue({"full", "lora"} <= values("method"))
        self.assertTrue({"bf16-mixed", "bf16-true"} <= values("precision"))
        self.assertTrue({True, False} <= values("grad_ckpt"))
        self.assertTrue({"eager", "sdpa"} <= values("attention"))
        self.assertTrue({"adamw", "sgd", "adafactor"} <= values("optimizer"))
        # Sweeps: some model/method has >= 3 sequence lengths and >= 3 micro-batches.
        self.assertGreaterEqual(len(values("seq_len") - {None}), 3)
        self.assertGreaterEqual(len(values("micro_batch") - {None}), 3)

    def test_every_run_is_measurable_here(self):
        for e in self.entries:
            measure.check_measurable(e["run"])

    def test_no_8b_full_mixed_adamw(self):
        # 8B full fine-tuning with fp32 weights + AdamW needs ~128 GB: not on an 80 GB H100.
        for r in self.runs:
            if r["params_b"] >= 7 and r["method"] == "full":
                self.assertNotEqual(r["precision"], "bf16-mixed")
                self.assertNotIn(r["optimizer"], ("adamw", "adamw-fused", "adam"))

    def test_first_runs_are_cheap(self):
        self.assertTrue(all(r["params_b"] <= 1.5 for r in self.runs[:10]))

    def test_selection(self):
        ids = [e["id"] for e in self.entries]
        self.assertEqual([e["id"] for e in measure.select_entries(self.entries, limit=3)], ids[:3])
        sel = measure.select_entries(self.entries, [ids[5], ids[1]])
        self.assertEqual([e["id"] for e in sel], [ids[5], ids[1]])
        with self.assertRaisesRegex(measure.RunError, "unknown matrix id"):
            measure.select_entries(self.entries, ["nope"])


class BadMatrix(unittest.TestCase):
    def write(self, lines):
        d = tempfile.mkdtemp()
        os.mkdir(os.path.join(d, "configs"))
        with open(os.path.join(d, "configs", "m.json"), "w") as f:
            json.dump({"model_type": "llama", "vocab_size": 10}, f)
        path = os.path.join(d, "m.jsonl")
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        return path

    def entry(self, **kw):
        e = {"id": "a", "config": "configs/m.json", "run": first_entry()["run"]}
        e.update(kw)
        return json.dumps(e)

    def test_errors(self):
        cases = [([self.entry(), self.entry()], "duplicate id a"),
                 ([self.entry(), ""], "blank line"),
                 (["{not json"], "invalid JSON"),
                 ([self.entry(config="configs/missing.json")], "config .* not found"),
                 ([json.dumps({"id": "a", "run": {}})], "exactly the keys")]
        for lines, pattern in cases:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(measure.RunError, pattern):
                    measure.load_matrix(self.write(lines))
        self.assertEqual(len(measure.load_matrix(self.write([self.entry()]))), 1)


class Arguments(unittest.TestCase):
    def test_usage_errors_exit_2(self):
        for argv in ([], ["--run", "r.json"], ["--matrix", MATRIX],
                     ["--matrix", MATRIX, "--config", "c.json", "--out", "o"],
                     ["--run", "r.json", "--config", "c", "--ids", "a", "--out", "o"],
                     ["--matrix", MATRIX, "--limit", "0", "--out", "o"],
                     ["--matrix", MATRIX, "--steps", "0", "--out", "o"]):
            with self.subTest(argv=argv):
                rc, _, err = run_main(argv)
                self.assertEqual(rc, measure.EXIT_USAGE)
                self.assertIn("error", err)

    def test_bad_run_json_and_missing_files(self):
        rc, _, err = run_main(["--run", "{bad", "--config", "x", "--out", "o"])
        self.assertEqual(rc, measure.EXIT_USAGE)
        self.assertIn("invalid JSON", err)
        run = json.dumps(first_entry()["run"])
        rc, _, err = run_main(["--run", run, "--config", "/nonexistent.json", "--out", "o"])
        self.assertEqual(rc, measure.EXIT_USAGE)
        self.assertIn("not found", err)
        rc, _, err = run_main(["--matrix", MATRIX, "--ids", "nope", "--out", "o"])
        self.assertEqual(rc, measure.EXIT_USAGE)
        self.assertIn("unknown matrix id", err)

    def test_list_ids(self):
        rc, out, _ = run_main(["--matrix", MATRIX, "--list-ids", "--limit", "4"])
        self.assertEqual(rc, 0)
        self.assertEqual(out.split(), [e["id"] for e in measure.load_matrix(MATRIX)[:4]])

    def test_skip_path_writes_skip_record_only(self):
        d = tempfile.mkdtemp()
        out = os.path.join(d, "rows.jsonl")
        ids = [e["id"] for e in measure.load_matrix(MATRIX)[:2]]
        with mock.patch("importlib.util.find_spec", lambda name: None):
            rc, _, err = run_main(["--matrix", MATRIX, "--ids", ",".join(ids), "--out", out])
        self.assertEqual(rc, measure.EXIT_SKIPPED)
        self.assertFalse(os.path.exists(out))
        with open(out + ".skipped.jsonl") as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual(recs, [{"id": i, "skipped": "skipped: torch not installed"}
                                for i in ids])
        self.assertIn("skipped: torch not installed", err)

    def test_measure_entry_with_fake_backend(self):
        entry = first_entry(lambda e: e["run"]["method"] == "lora")
        seen = {}

        def backend(run, cfg, steps, device, seed):
            seen.update(run=run, cfg=cfg, steps=steps, device=device)
            return fake_measurement(), FAKE_ENV

        args = measure.parse_args(["--matrix", MATRIX, "--out", "o", "--steps", "2"])
        with mock.patch("importlib.util.find_spec", lambda name: object()):
            kind, row = measure.measure_entry(entry, args, backend_loader=lambda: backend)
        self.assertEqual(kind, "row")
        self.assertEqual(seen["steps"], 2)
        self.assertEqual(seen["cfg"]["model_type"], measure.load_model_config(entry["config"])["model_type"])
        self.assertEqual(row["orig"]["matrix_id"], entry["id"])

    def test_backend_skip_becomes_skip_record(self):
        entry = first_entry(lambda e: e["run"]["optimizer"] == "adamw")

        def backend(run, cfg, steps, device, seed):
            raise measure.Skip("bitsandbytes not installed")

        args = measure.parse_args(["--matrix", MATRIX, "--out", "o"])
        with mock.patch("importlib.util.find_spec", lambda name: object()):
            kind, rec = measure.measure_entry(entry, args, backend_loader=lambda: backend)
        self.assertEqual((kind, rec), ("skip", {"id": entry["id"],
                                                "skipped": "skipped: bitsandbytes not installed"}))


class RowSchema(unittest.TestCase):
    """A row built from fake values has every key and type SCHEMA.md requires."""

    when = datetime.datetime(2026, 12, 6, 10, 0, 0, tzinfo=datetime.timezone.utc)

    def check_row(self, row):
        self.assertEqual(list(row), measure.ROW_KEYS)
        self.assertIsInstance(row["id"], str)
        self.assertEqual(row["source"], "measured with tools/measure")
        self.assertIsInstance(row["quote"], str)
        self.assertIs(row["measured_run"], True)
        self.assertIn(row["trust"], ("high", "medium", "low"))
        self.assertIs(row["suspect"], False)
        measure.validate_run(row["run"])
        self.assertEqual(list(row["run"]), measure.RUN_KEYS)
        m = row["measured"]
        self.assertEqual(sorted(m), ["also", "bytes", "metric", "oom"])
        self.assertIn(m["metric"], measure.METRICS)
        self.assertTrue(m["bytes"] is None or measure._is_int(m["bytes"]))
        self.assertEqual(sorted(m["also"]), ["allocated", "process", "reserved"])
        if m["metric"] in m["also"]:
            self.assertIsNone(m["also"][m["metric"]])
        for v in m["also"].values():
            self.assertTrue(v is None or measure._is_int(v))
        self.assertIsInstance(row["notes"], str)
        self.assertLess(len(row["notes"]), 300)
        self.assertIsInstance(row["orig"], dict)
        # One JSON line, no NaN.
        line = json.dumps(row, allow_nan=False)
        self.assertNotIn("\n", line)

    def test_success_row(self):
        entry = first_entry(lambda e: e["run"]["method"] == "lora")
        row = measure.build_row(entry["id"], entry["run"], fake_measurement(), FAKE_ENV, self.when)
        self.check_row(row)
        self.assertEqual(row["measured"], {"metric": "allocated", "bytes": 3_000_000_000,
                                           "oom": False,
                                           "also": {"allocated": None, "reserved": 3_500_000_000,
                                                    "process": 4_000_000_000}})
        self.assertEqual(row["run"]["gpu"], {"name": "h100-80gb", "memory_gib": 81559 / 1024})
        fw = row["run"]["framework"]
        self.assertEqual((fw["name"], fw["torch"], fw["transformers"], fw["peft"]),
                         ("peft", "2.5.1+cu124", "4.46.0", "0.13.2"))
        self.assertEqual(row["id"], "tools-measure-%s-h100-80gb-20261206T100000Z" % entry["id"])
        self.assertIn("max_memory_allocated() = 3000000000 bytes", row["quote"])
        self.assertIn("peak phase backward", row["quote"])
        self.assertIn("550.54.15", row["notes"])
        self.assertEqual(row["orig"]["env"], FAKE_ENV)
        # The input run is not modified.
        self.assertEqual(entry["run"]["gpu"], {"name": None, "memory_gib": None})

    def test_full_run_has_no_peft_version(self):
        entry = first_entry(lambda e: e["run"]["method"] == "full")
        row = measure.build_row(entry["id"], entry["run"], fake_measurement(), FAKE_ENV, self.when)
        self.check_row(row)
        self.assertEqual(row["run"]["framework"]["name"], "other")
        self.assertIsNone(row["run"]["framework"]["peft"])

    def test_oom_row(self):
        entry = first_entry()
        row = measure.build_row(entry["id"], entry["run"], fake_measurement(oom=True), FAKE_ENV,
                                self.when)
        self.check_row(row)
        self.assertEqual(row["measured"]["metric"], "process")
        self.assertIs(row["measured"]["oom"], True)
        self.assertEqual(row["measured"]["bytes"], 81559 * 2**20)
        self.assertIn("OutOfMemoryError", row["quote"])

    def test_frozen_row_phases_null(self):
        entry = first_entry(lambda e: e["run"]["method"] == "frozen")
        row = measure.build_row(entry["id"], entry["run"], fake_measurement(), FAKE_ENV, self.when)
        self.check_row(row)
        self.assertIsNone(row["run"]["phases"])

    def test_gpu_names(self):
        for raw, want in [("NVIDIA H100 80GB HBM3", "h100-80gb"),
                          ("NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb"),
                          ("NVIDIA A100 80GB PCIe", "a100-80gb"),
                          ("NVIDIA GeForce RTX 4090", "rtx-4090"),
                          ("NVIDIA A10G", "a10g"), ("NVIDIA L40S", "l40s"), (None, None)]:
            self.assertEqual(measure.normalize_gpu_name(raw), want)


class AtomicAppend(unittest.TestCase):
    def test_appends_lines_and_keeps_existing(self):
        path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
        with open(path, "w") as f:
            f.write('{"id": "old"}\n')
        measure.append_line(path, {"id": "a", "x": "ü"})
        measure.append_line(path, {"id": "b"})
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual([json.loads(line)["id"] for line in lines], ["old", "a", "b"])
        self.assertEqual(json.loads(lines[1])["x"], "ü")

    def test_torn_last_line_is_not_merged(self):
        path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
        with open(path, "w") as f:
            f.write('{"id": "old"}\n{"id": "tor')
        measure.append_line(path, {"id": "new"})
        with open(path) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines, ['{"id": "old"}', '{"id": "tor', '{"id": "new"}', ""])

    def test_single_write_call(self):
        path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
        calls = []
        real_write = os.write

        def spy(fd, data):
            calls.append(data)
            return real_write(fd, data)

        with mock.patch("os.write", spy):
            measure.append_line(path, {"id": "a", "pad": "x" * 100000})
        self.assertEqual(len(calls), 1)
        self.assertTrue(calls[0].endswith(b"\n"))


class VramfitReadsRows(unittest.TestCase):
    """A row the harness writes goes through `vramfit validate` and is scored."""

    def test_validate_scores_the_row(self):
        exe = os.environ.get("VRAMFIT") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "vramfit")
        if not os.access(exe, os.X_OK):
            self.skipTest("build/vramfit is not built")
        when = datetime.datetime(2026, 12, 6, 10, 0, 0, tzinfo=datetime.timezone.utc)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rows.jsonl")
            for method in ("lora", "full"):
                entry = first_entry(lambda e, m=method: e["run"]["method"] == m)
                measure.append_line(path, measure.build_row(
                    entry["id"], entry["run"], fake_measurement(), FAKE_ENV, when))
            out = subprocess.run([exe, "validate", "--json", path],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            rows = json.loads(out.stdout)["rows"]
            self.assertEqual(len(rows), 2)
            for row in rows:
                self.assertTrue(row["scored"], row.get("reason"))
                self.assertEqual(row["measured_bytes"], 3_000_000_000)


if __name__ == "__main__":
    unittest.main()
