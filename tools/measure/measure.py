#!/usr/bin/env python3
"""Measure the GPU memory of one described training run and write a calibration row.

The run is described by the `run` object of tests/data/calibration/SCHEMA.md. The model is
built from a config.json with random weights (no downloads), a few real steps are run, and
one JSON line in the calibration schema is appended to --out.

This module is stdlib-only. Everything that needs torch lives in `_torch_backend.py` and is
imported only when a measurement actually runs, so argument handling, validation, row
building and file writing can be tested without torch.

Usage:
  measure.py --run RUN.json --config CONFIG.json --out rows.jsonl
  measure.py --matrix matrix.jsonl --ids ID[,ID...] --out rows.jsonl
  measure.py --matrix matrix.jsonl --list-ids [--limit N]
"""

import argparse
import datetime
import fcntl
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "measured with tools/measure"

# Exit codes.
EXIT_OK = 0
EXIT_ERROR = 1      # a measurement failed in an unexpected way
EXIT_USAGE = 2      # bad arguments, bad run description or matrix
EXIT_SKIPPED = 3    # a required optional dependency is missing or the run is unsupported

# --- schema enums (tests/data/calibration/SCHEMA.md) ---------------------------------------

METHODS = {"full", "qlora", "lora", "dora", "adapter", "adapter_v2", "ia3", "prefix", "prompt",
           "p_tuning", "loha", "lokr", "oft", "boft", "vera", "adalora", "ln_tuning",
           "other-peft", "frozen", "inference"}
PRECISIONS = {"fp32", "fp16-mixed", "bf16-mixed", "fp16-true", "bf16-true", "fp64"}
QUANTS = {"nf4", "nf4-dq", "fp4", "fp4-dq", "int8", "gptq-4bit", "float8"}
ATTENTIONS = {"eager", "sdpa", "flash2", "flex"}
OPTIMIZERS = {"adamw", "adamw-fused", "adamw-8bit", "paged-adamw", "paged-adamw-8bit",
              "adafactor", "sgd", "sgd-momentum", "lion", "lion-8bit", "adam", "adam-8bit"}
LOSSES = {"standard", "chunked", "fused-linear-ce"}
PHASES = {"train", "train+eval", "train+generate", "inference"}
STRATEGIES = {"single", "ddp", "fsdp", "hsdp", "zero1", "zero2", "zero3", "tp", "fsdp+tp",
              "fsdp+cp"}
OFFLOADS = {"optimizer", "params", "optimizer+params"}
FRAMEWORKS = {"litgpt", "torchtune", "hf-trainer", "trl", "peft", "fms-hf-tuning", "fsdp_qlora",
              "torchtitan", "unsloth", "llama-factory", "lightning", "other"}
LORA_TARGETS = ["q", "k", "v", "qkv", "o", "gate", "up", "gate_up", "down", "fc1", "fc2",
                "embed", "lm_head", "all-linear"]
METRICS = {"allocated", "active", "reserved", "process", "reserved-minus-init", "unknown",
           "estimate"}

RUN_KEYS = ["model", "params_b", "method", "precision", "quant", "quant_storage", "lora",
            "micro_batch", "seq_len", "grad_accum", "grad_ckpt", "attention", "optimizer",
            "optimizer_in_backward", "loss", "packing", "compile", "activation_offload",
            "parallel", "framework", "phases", "gpu"]
LORA_KEYS = ["r", "alpha", "dropout", "targets"]
PARALLEL_KEYS = ["n_gpus", "strategy", "offload", "tp", "cp"]
FRAMEWORK_KEYS = ["name", "version", "torch", "transformers", "peft", "bitsandbytes"]
GPU_KEYS = ["name", "memory_gib"]
ROW_KEYS = ["id", "source", "quote", "measured_run", "trust", "suspect", "run", "measured",
            "notes", "orig"]

TRAINING_METHODS = {"full", "lora", "dora"}
ADAPTER_METHODS = {"lora", "dora"}
# What this harness can execute (a subset of the schema).
SUPPORTED_METHODS = {"full", "lora", "dora", "frozen", "inference"}
SUPPORTED_PRECISIONS = {"fp32", "bf16-mixed", "bf16-true", "fp16-mixed"}
BNB_OPTIMIZERS = {"adamw-8bit", "paged-adamw", "paged-adamw-8bit", "lion", "lion-8bit",
                  "adam-8bit"}
DEFAULT_STEPS = 3


class RunError(ValueError):
    """The run description is invalid (usage error)."""


class Skip(Exception):
    """The run cannot be measured here: a dependency is missing or the feature is unsupported."""


# --- helpers ------------------------------------------------------------------------------

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_keys(obj, keys, where):
    if not isinstance(obj, dict):
        raise RunError("%s must be an object" % where)
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing:
        raise RunError("%s: missing key(s) %s" % (where, ", ".join(missing)))
    if extra:
        raise RunError("%s: unknown key(s) %s" % (where, ", ".join(extra)))


def _check_enum(value, allowed, where, nullable=True):
    if value is None and nullable:
        return
    if value not in allowed:
        raise RunError("%s: %r is not one of %s" % (where, value, ", ".join(sorted(allowed))))


def _check_pos_int(value, where, nullable=True):
    if value is None and nullable:
        return
    if not _is_int(value) or value < 1:
        raise RunError("%s: must be a positive integer, got %r" % (where, value))


def validate_run(run):
    """Check a `run` object against the schema; raise RunError with the first problem."""
    _check_keys(run, RUN_KEYS, "run")
    if not isinstance(run["model"], str) or not run["model"]:
        raise RunError("run.model: must be a non-empty string")
    if run["params_b"] is not None and not _is_number(run["params_b"]):
        raise RunError("run.params_b: must be a number or null")
    _check_enum(run["method"], METHODS, "run.method", nullable=False)
    _check_enum(run["precision"], PRECISIONS, "run.precision")
    _check_enum(run["quant"], QUANTS, "run.quant")
    if run["quant_storage"] is not None and not isinstance(run["quant_storage"], str):
        raise RunError("run.quant_storage: must be a string or null")
    lora = run["lora"]
    if lora is not None:
        _check_keys(lora, LORA_KEYS, "run.lora")
        _check_pos_int(lora["r"], "run.lora.r")
        if lora["alpha"] is not None and not _is_number(lora["alpha"]):
            raise RunError("run.lora.alpha: must be a number or null")
        d = lora["dropout"]
        if d is not None and (not _is_number(d) or not 0 <= d < 1):
            raise RunError("run.lora.dropout: must be a number in [0, 1) or null")
        t = lora["targets"]
        if t is not None:
            if not isinstance(t, list) or not t or any(x not in LORA_TARGETS for x in t):
                raise RunError("run.lora.targets: must be a non-empty list of %s"
                               % ", ".join(LORA_TARGETS))
            if len(set(t)) != len(t):
                raise RunError("run.lora.targets: duplicate target")
            if t != sorted(t, key=LORA_TARGETS.index):
                raise RunError("run.lora.targets: not in canonical order %s"
                               % ", ".join(LORA_TARGETS))
    elif run["method"] in {"lora", "qlora", "dora", "loha", "lokr", "adalora", "vera", "oft",
                           "boft", "ia3"}:
        raise RunError("run.lora: required (an object) for method %s" % run["method"])
    for k in ("micro_batch", "seq_len", "grad_accum"):
        _check_pos_int(run[k], "run." + k)
    if run["grad_ckpt"] not in (True, False, "offload", None):
        raise RunError("run.grad_ckpt: must be true, false, \"offload\" or null")
    _check_enum(run["attention"], ATTENTIONS, "run.attention")
    _check_enum(run["optimizer"], OPTIMIZERS, "run.optimizer")
    _check_enum(run["loss"], LOSSES, "run.loss")
    for k in ("optimizer_in_backward", "packing", "compile", "activation_offload"):
        if run[k] not in (True, False, None):
            raise RunError("run.%s: must be a boolean or null" % k)
    par = run["parallel"]
    _check_keys(par, PARALLEL_KEYS, "run.parallel")
    _check_pos_int(par["n_gpus"], "run.parallel.n_gpus")
    _check_enum(par["strategy"], STRATEGIES, "run.parallel.strategy")
    _check_enum(par["offload"], OFFLOADS, "run.parallel.offload")
    _check_pos_int(par["tp"], "run.parallel.tp")
    _check_pos_int(par["cp"], "run.parallel.cp")
    fw = run["framework"]
    _check_keys(fw, FRAMEWORK_KEYS, "run.framework")
    _check_enum(fw["name"], FRAMEWORKS, "run.framework.name", nullable=False)
    for k in FRAMEWORK_KEYS[1:]:
        if fw[k] is not None and not isinstance(fw[k], str):
            raise RunError("run.framework.%s: must be a string or null" % k)
    _check_enum(run["phases"], PHASES, "run.phases")
    gpu = run["gpu"]
    _check_keys(gpu, GPU_KEYS, "run.gpu")
    if gpu["name"] is not None and not isinstance(gpu["name"], str):
        raise RunError("run.gpu.name: must be a string or null")
    if gpu["memory_gib"] is not None and not _is_number(gpu["memory_gib"]):
        raise RunError("run.gpu.memory_gib: must be a number or null")
    return run


def check_measurable(run):
    """Raise Skip if this harness cannot execute `run` (valid, but out of its scope)."""
    m = run["method"]
    if m not in SUPPORTED_METHODS:
        raise Skip("method %s is not supported by tools/measure" % m)
    if run["precision"] not in SUPPORTED_PRECISIONS:
        raise Skip("precision %s is not supported by tools/measure" % run["precision"])
    if run["quant"] is not None:
        raise Skip("quantized base weights (%s) are not supported by tools/measure" % run["quant"])
    if m in TRAINING_METHODS or m == "inference":
        for k in ("micro_batch", "seq_len"):
            if run[k] is None:
                raise Skip("run.%s must be stated to measure a %s run" % (k, m))
    if m in TRAINING_METHODS and run["optimizer"] is None:
        raise Skip("run.optimizer must be stated to measure a %s run" % m)
    if run["grad_ckpt"] == "offload":
        raise Skip("offloaded gradient checkpointing is not supported by tools/measure")
    for k in ("optimizer_in_backward", "compile", "activation_offload"):
        if run[k]:
            raise Skip("run.%s = true is not supported by tools/measure" % k)
    if run["loss"] not in (None, "standard"):
        raise Skip("loss %s is not supported by tools/measure" % run["loss"])
    par = run["parallel"]
    if (par["n_gpus"] or 1) != 1 or par["strategy"] not in (None, "single") or par["offload"]:
        raise Skip("only single-GPU runs without offload are supported by tools/measure")
    if run["attention"] == "flex":
        raise Skip("flex attention is not supported by tools/measure")
    if m in ADAPTER_METHODS:
        t = run["lora"]["targets"] or []
        unsupported = [x for x in t if x in ("qkv", "gate_up", "fc1", "fc2")]
        if unsupported:
            raise Skip("lora targets %s need a fused-projection model" % ",".join(unsupported))


def require_modules(run, have=None):
    """Raise Skip naming the first missing module this run needs. `have(name)` -> bool."""
    if have is None:
        have = lambda name: importlib.util.find_spec(name) is not None
    needed = ["torch", "transformers"]
    if run["method"] in ADAPTER_METHODS:
        needed.append("peft")
    if run["optimizer"] in BNB_OPTIMIZERS and run["method"] in TRAINING_METHODS:
        needed.append("bitsandbytes")
    if run["attention"] == "flash2":
        needed.append("flash_attn")
    for name in needed:
        if not have(name):
            raise Skip("%s not installed" % name)


# --- input --------------------------------------------------------------------------------

def load_json_arg(text_or_path, what):
    """A JSON object given inline (starts with '{') or as a file path."""
    try:
        if text_or_path.lstrip().startswith("{"):
            return json.loads(text_or_path)
        with open(text_or_path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise RunError("%s: cannot read %s: %s" % (what, text_or_path, e.strerror))
    except json.JSONDecodeError as e:
        raise RunError("%s: invalid JSON: %s" % (what, e))


def load_matrix(path):
    """Read and validate a matrix file; return a list of {id, config, run} with config resolved
    to an absolute path (relative paths are relative to the matrix file)."""
    base = os.path.dirname(os.path.abspath(path))
    entries, seen = [], set()
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise RunError("matrix: cannot read %s: %s" % (path, e.strerror))
    with f:
        for n, line in enumerate(f, 1):
            where = "%s:%d" % (path, n)
            if not line.strip():
                raise RunError("%s: blank line" % where)
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                raise RunError("%s: invalid JSON: %s" % (where, err))
            if not isinstance(e, dict) or sorted(e) != ["config", "id", "run"]:
                raise RunError("%s: an entry has exactly the keys id, config, run" % where)
            if not isinstance(e["id"], str) or not e["id"]:
                raise RunError("%s: id must be a non-empty string" % where)
            if e["id"] in seen:
                raise RunError("%s: duplicate id %s" % (where, e["id"]))
            seen.add(e["id"])
            try:
                validate_run(e["run"])
            except RunError as err:
                raise RunError("%s (%s): %s" % (where, e["id"], err))
            cfg = os.path.join(base, e["config"])
            if not os.path.isfile(cfg):
                raise RunError("%s (%s): config %s not found" % (where, e["id"], e["config"]))
            entries.append({"id": e["id"], "config": cfg, "run": e["run"]})
    return entries


def select_entries(entries, ids=None, limit=None):
    if ids:
        by_id = {e["id"]: e for e in entries}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise RunError("unknown matrix id(s): %s" % ", ".join(unknown))
        entries = [by_id[i] for i in ids]
    if limit is not None:
        entries = entries[:limit]
    return entries


def load_model_config(path):
    cfg = load_json_arg(path, "config")
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise RunError("config %s: not a Hugging Face config.json (no model_type)" % path)
    return cfg


# --- output -------------------------------------------------------------------------------

def normalize_gpu_name(name, total_bytes=None):
    """'NVIDIA H100 80GB HBM3' -> 'h100-80gb'; 'NVIDIA A100-SXM4-40GB' -> 'a100-sxm4-40gb'."""
    if not name:
        return None
    s = name.lower()
    for prefix in ("nvidia ", "geforce ", "tesla "):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.replace("geforce ", "")
    for suffix in (" hbm3e", " hbm3", " hbm2e", " pcie", " nvl"):
        s = s.replace(suffix, "")
    s = "-".join(s.replace("_", " ").split())
    if s.startswith("rtx") and not s.startswith("rtx-"):
        s = "rtx-" + s[3:]
    return s


def row_id(matrix_id, gpu_name, when):
    return "tools-measure-%s-%s-%s" % (matrix_id, gpu_name or "gpu",
                                      when.strftime("%Y%m%dT%H%M%SZ"))


def _fmt_bytes(n):
    return "n/a" if n is None else "%d bytes (%.3f GiB)" % (n, n / 2**30)


def build_row(matrix_id, run, m, env, when=None):
    """Build a calibration row from a run and the values a measurement produced.

    `m`: {"oom": bool, "allocated": int|None, "reserved": int|None, "process": int|None,
          "process_method": str, "peak_phase": str|None, "phases": {phase: {...}},
          "steps": int, "error": str|None}
    `env`: {"gpu_name": str, "gpu_memory_bytes": int|None, "torch": str, "cuda": str,
            "driver": str, "transformers": str, "peft": str|None, "bitsandbytes": str|None,
            "python": str, "flash_attn": str|None}
    """
    when = when or datetime.datetime.now(datetime.timezone.utc)
    gpu = normalize_gpu_name(env.get("gpu_name"))
    total = env.get("gpu_memory_bytes")
    out_run = json.loads(json.dumps(run))
    out_run["gpu"] = {"name": gpu,
                      "memory_gib": (total / 2**30) if total is not None else None}
    fw = out_run["framework"]
    fw["name"] = "peft" if run["method"] in ADAPTER_METHODS else "other"
    fw["version"] = "tools/measure"
    fw["torch"] = env.get("torch")
    fw["transformers"] = env.get("transformers")
    fw["peft"] = env.get("peft") if run["method"] in ADAPTER_METHODS else None
    fw["bitsandbytes"] = env.get("bitsandbytes") if run["optimizer"] in BNB_OPTIMIZERS else None
    if out_run["phases"] is None:
        out_run["phases"] = {"frozen": None, "inference": "inference"}.get(run["method"],
                                                                            "train")
    if out_run["loss"] is None and run["method"] in TRAINING_METHODS:
        out_run["loss"] = "standard"
    if out_run["packing"] is None and run["method"] in TRAINING_METHODS | {"inference"}:
        out_run["packing"] = True  # fixed-length random tokens: every row full

    if m["oom"]:
        measured = {"metric": "process", "bytes": total, "oom": True,
                    "also": {"allocated": None, "reserved": None, "process": None}}
        quote = ("tools/measure: torch.cuda.OutOfMemoryError in phase %s on %s (%s); device total "
                 "%s" % (m.get("peak_phase"), env.get("gpu_name"), (m.get("error") or "")[:200],
                         _fmt_bytes(total)))
    else:
        measured = {"metric": "allocated", "bytes": m["allocated"], "oom": False,
                    "also": {"allocated": None, "reserved": m["reserved"],
                             "process": m["process"]}}
        quote = ("tools/measure on %s, %d step(s): torch.cuda.max_memory_allocated() = %s; "
                 "torch.cuda.max_memory_reserved() = %s; process memory (%s) = %s; peak phase "
                 "%s (per-phase torch.cuda.reset_peak_memory_stats)"
                 % (env.get("gpu_name"), m["steps"], _fmt_bytes(m["allocated"]),
                    _fmt_bytes(m["reserved"]), m.get("process_method"),
                    _fmt_bytes(m["process"]), m.get("peak_phase")))
    notes = ("Random weights, random token ids of fixed length; peak over load + %d step(s); "
             "process memory read at the end of each phase (max taken); CUDA %s, driver %s, "
             "Python %s." % (m["steps"], env.get("cuda"), env.get("driver"), env.get("python")))
    row = {
        "id": row_id(matrix_id, gpu, when),
        "source": SOURCE,
        "quote": quote,
        "measured_run": True,
        "trust": "high",
        "suspect": False,
        "run": out_run,
        "measured": measured,
        "notes": notes[:299],
        "orig": {"matrix_id": matrix_id, "measured_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "peak_phase": m.get("peak_phase"), "phases": m.get("phases"),
                 "steps": m["steps"], "process_method": m.get("process_method"),
                 "error": m.get("error"), "env": env, "run_as_given": run},
    }
    return row


def skip_record(matrix_id, reason):
    return {"id": matrix_id, "skipped": reason}


def append_line(path, obj):
    """Append one JSON line atomically: one write() of the whole line on an O_APPEND file
    under an exclusive flock. A file whose last line lacks its newline gets one first, so an
    earlier torn write can never merge with this row."""
    data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as r:
                r.seek(size - 1)
                if r.read(1) != b"\n":
                    data = b"\n" + data
        n = os.write(fd, data)
        if n != len(data):
            raise OSError("short write to %s (%d of %d bytes)" % (path, n, len(data)))
        os.fsync(fd)
    finally:
        os.close(fd)


# --- main ---------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="measure.py", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run object (JSON file path or inline JSON)")
    src.add_argument("--matrix", help="matrix file (JSON lines of {id, config, run})")
    p.add_argument("--config", help="model config.json (required with --run)")
    p.add_argument("--id", dest="run_id", help="name of the run for --run (default: run)")
    p.add_argument("--ids", help="comma-separated matrix ids to measure")
    p.add_argument("--limit", type=int, help="only the first N selected matrix entries")
    p.add_argument("--list-ids", action="store_true", help="print the selected ids and exit")
    p.add_argument("--out", help="append result rows to this file")
    p.add_argument("--skipped-out", help="append skip records here (default: OUT.skipped.jsonl)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help="optimizer steps (default %d)" % DEFAULT_STEPS)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.run and not a.config:
        p.error("--run needs --config")
    if a.matrix and a.config:
        p.error("--config is given by the matrix entries; do not pass it with --matrix")
    if a.run and (a.ids or a.limit is not None or a.list_ids):
        p.error("--ids, --limit and --list-ids apply to --matrix only")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")
    if a.steps < 1:
        p.error("--steps must be >= 1")
    if not a.list_ids and not a.out:
        p.error("--out is required (except with --list-ids)")
    return a


def measure_entry(entry, args, backend_loader=None):
    """Measure one entry; return ("row", row) or ("skip", record)."""
    run = entry["run"]
    try:
        check_measurable(run)
        require_modules(run)
        cfg = load_model_config(entry["config"])
        if backend_loader is None:
            from _torch_backend import measure as backend_measure  # lazy: needs torch
        else:
            backend_measure = backend_loader()
        m, env = backend_measure(run, cfg, steps=args.steps, device=args.device, seed=args.seed)
    except Skip as s:
        return "skip", skip_record(entry["id"], "skipped: %s" % s)
    return "row", build_row(entry["id"], run, m, env)


def main(argv=None):
    sys.path.insert(0, HERE)
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    try:
        if args.matrix:
            ids = [i for i in (args.ids or "").split(",") if i]
            entries = select_entries(load_matrix(args.matrix), ids, args.limit)
        else:
            run = validate_run(load_json_arg(args.run, "run"))
            if not os.path.isfile(args.config):
                raise RunError("config %s not found" % args.config)
            entries = [{"id": args.run_id or "run", "config": args.config, "run": run}]
    except RunError as e:
        print("measure.py: error: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    if args.list_ids:
        for e in entries:
            print(e["id"])
        return EXIT_OK
    skipped_out = args.skipped_out or args.out + ".skipped.jsonl"
    rc = EXIT_OK
    for e in entries:
        try:
            kind, obj = measure_entry(e, args)
        except RunError as err:
            print("measure.py: error: %s: %s" % (e["id"], err), file=sys.stderr)
            rc = EXIT_USAGE
            continue
        except Exception as err:  # a failed measurement must not stop the other runs
            print("measure.py: error: %s: %s: %s" % (e["id"], type(err).__name__, err),
                  file=sys.stderr)
            rc = EXIT_ERROR
            continue
        if kind == "skip":
            append_line(skipped_out, obj)
            print("%s: %s" % (e["id"], obj["skipped"]), file=sys.stderr)
            rc = rc or EXIT_SKIPPED
            continue
        append_line(args.out, obj)
        ms = obj["measured"]
        print("%s: %s %s%s" % (e["id"], ms["metric"], ms["bytes"],
                               " (oom)" if ms["oom"] else ""))
    return rc


if __name__ == "__main__":
    # _torch_backend imports this module as `measure`: share one module (one Skip class).
    sys.modules.setdefault("measure", sys.modules["__main__"])
    sys.exit(main())
