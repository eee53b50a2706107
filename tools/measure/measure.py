#!/usr/bin/env python3
"""measure.py - measure the peak GPU memory of a described training run.

Builds a model from a config.json with random weights (no downloads), runs a
few real training steps of the run (the `run` object of the calibration
schema, tests/data/calibration/SCHEMA.md), and appends one row in that schema
with torch.cuda.max_memory_allocated, max_memory_reserved, the process memory
from NVML, the phase of the peak, and the versions of what ran.

    python3 tools/measure/measure.py --config CONFIG.json --run RUN.json --out rows.jsonl
    python3 tools/measure/measure.py --matrix tools/measure/matrix.jsonl --id ID --out rows.jsonl

Everything but `measure_on_gpu` is plain Python, so argument handling, run
validation and the row format are tested without torch (test_measure.py).
Optional dependencies (bitsandbytes, flash-attn, pynvml) are detected; a run
that needs a missing one is skipped with a row-less message saying why.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

SOURCE = "measured with tools/measure"
PHASES = ("load", "forward", "backward", "optimizer_step")

# Schema enum values the harness can run, and what each needs beyond
# torch + transformers.
METHODS = {"full": (), "lora": ("peft",), "dora": ("peft",),
           "qlora": ("peft", "bitsandbytes"), "inference": ()}
PRECISIONS = ("bf16-mixed", "bf16-true", "fp16-mixed", "fp32")
OPTIMIZERS = {"adamw": (), "adamw-fused": (), "sgd": (), "sgd-momentum": (),
              "adafactor": (), "adamw-8bit": ("bitsandbytes",),
              "paged-adamw": ("bitsandbytes",),
              "paged-adamw-8bit": ("bitsandbytes",)}
ATTENTIONS = {"eager": (), "sdpa": (), "flash2": ("flash_attn",)}
QUANTS = (None, "nf4", "nf4-dq", "fp4", "int8")
# Schema LoRA target names -> module names of HF Llama/Qwen-style models.
LORA_TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
                "gate": "gate_proj", "up": "up_proj", "down": "down_proj",
                "lm_head": "lm_head", "embed": "embed_tokens"}

# The schema's run keys, in the schema's order (SCHEMA.md, `run`).
RUN_KEYS = ("model", "params_b", "method", "precision", "quant",
            "quant_storage", "lora", "micro_batch", "seq_len", "grad_accum",
            "grad_ckpt", "attention", "optimizer", "optimizer_in_backward",
            "loss", "packing", "compile", "activation_offload", "parallel",
            "framework", "phases", "gpu")

# Accumulation steps actually executed per optimizer step: two show the
# accumulated gradients living through a forward; more only cost time.
MAX_MICRO_STEPS = 2


class RunError(ValueError):
    """A run description the harness cannot execute as written."""


def validate_run(run):
    """Checks a run object and returns it with the harness's defaults filled.

    Raises RunError naming the field that is wrong.
    """
    if not isinstance(run, dict):
        raise RunError("run: must be a JSON object")
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise RunError("run: unknown key %r" % unknown[0])
    r = dict(run)
    if not isinstance(r.get("model"), str) or not r["model"]:
        raise RunError("run.model: must name the model")

    def pick(key, allowed, default):
        value = r.get(key)
        if value is None:
            value = default
        if value not in allowed:
            raise RunError("run.%s: %r is not one of %s"
                           % (key, value, ", ".join(map(str, allowed))))
        r[key] = value

    pick("method", tuple(METHODS), "full")
    pick("precision", PRECISIONS, "bf16-mixed")
    pick("optimizer", tuple(OPTIMIZERS), "adamw")
    pick("attention", tuple(ATTENTIONS), "sdpa")
    pick("quant", QUANTS, None)
    if r["method"] == "qlora" and r["quant"] is None:
        raise RunError("run.quant: qlora needs a quantization (nf4, ...)")
    for key, default, top in (("micro_batch", 1, 4096), ("seq_len", 512, 131072),
                              ("grad_accum", 1, 65536)):
        value = r.get(key)
        if value is None:
            value = default
        if not isinstance(value, int) or isinstance(value, bool) \
                or not 1 <= value <= top:
            raise RunError("run.%s: must be an integer in 1..%d" % (key, top))
        r[key] = value
    gc = r.get("grad_ckpt")
    if gc not in (None, True, False):
        raise RunError("run.grad_ckpt: the harness runs true or false")
    r["grad_ckpt"] = bool(gc)
    if r["method"] in ("lora", "dora", "qlora"):
        lora = r.get("lora") or {}
        if not isinstance(lora, dict):
            raise RunError("run.lora: must be an object")
        targets = lora.get("targets") or ["q", "v"]
        for t in targets:
            if t != "all-linear" and t not in LORA_TARGETS:
                raise RunError("run.lora.targets: unknown target %r" % t)
        rank = lora.get("r") or 8
        if not isinstance(rank, int) or rank < 1:
            raise RunError("run.lora.r: must be a positive integer")
        dropout = lora.get("dropout")
        dropout = 0.0 if dropout is None else dropout
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise RunError("run.lora.dropout: must be in [0, 1)")
        r["lora"] = {"r": rank, "alpha": lora.get("alpha") or 2 * rank,
                     "dropout": float(dropout), "targets": list(targets)}
    else:
        r["lora"] = None
    parallel = r.get("parallel") or {}
    if (parallel.get("n_gpus") or 1) != 1:
        raise RunError("run.parallel.n_gpus: the harness measures one GPU")
    for key in ("optimizer_in_backward", "compile", "activation_offload",
                "packing"):
        if r.get(key):
            raise RunError("run.%s: not supported by the harness" % key)
    if r.get("loss") not in (None, "standard"):
        raise RunError("run.loss: the harness uses the model's own loss")
    return r


def missing_dependencies(run, have=None):
    """The optional modules this run needs and this machine lacks."""
    have = have or (lambda name: importlib.util.find_spec(name) is not None)
    needed = set(METHODS[run["method"]]) | set(OPTIMIZERS[run["optimizer"]]) \
        | set(ATTENTIONS[run["attention"]])
    if run.get("quant"):
        needed.add("bitsandbytes")
    return sorted(n for n in needed if not have(n))


def gpu_slug(name):
    """'NVIDIA H100 80GB HBM3' -> 'h100-80gb-hbm3' (vramfit's GPU names)."""
    words = name.lower().replace("nvidia", "").replace("geforce", "").split()
    return "-".join(w.strip("-") for w in words if w.strip("-")) or "gpu"


def build_row(row_id, run, config_name, measurement, env):
    """One calibration row (schema v1) from a measurement.

    measurement: {"phases": {phase: {"allocated": b, "reserved": b}},
                  "process_bytes": b or None, "oom": bool, "steps": n,
                  "micro_steps": n}
    env: {"gpu_name", "gpu_memory_bytes", "torch", "transformers", "peft",
          "bitsandbytes", "cuda", "driver", "python", "host"}
    """
    phases = measurement["phases"]
    allocated = max((p["allocated"] for p in phases.values()), default=0)
    reserved = max((p["reserved"] for p in phases.values()), default=0)
    peak_phase = max(phases, key=lambda k: phases[k]["allocated"]) \
        if phases else None
    oom = bool(measurement.get("oom"))
    gib = env["gpu_memory_bytes"] / 2**30
    out_run = {key: run.get(key) for key in RUN_KEYS}
    out_run["framework"] = {
        "name": "peft", "version": None, "torch": env.get("torch"),
        "transformers": env.get("transformers"), "peft": env.get("peft"),
        "bitsandbytes": env.get("bitsandbytes")}
    out_run["parallel"] = {"n_gpus": 1, "strategy": "single", "offload": None,
                           "tp": None, "cp": None}
    out_run["phases"] = "train" if run["method"] != "inference" else "inference"
    out_run["gpu"] = {"name": gpu_slug(env["gpu_name"]), "memory_gib": gib}
    if oom:
        measured = {"metric": "process", "bytes": env["gpu_memory_bytes"],
                    "oom": True,
                    "also": {"allocated": None, "reserved": None,
                             "process": None}}
    else:
        measured = {"metric": "allocated", "bytes": allocated, "oom": False,
                    "also": {"allocated": None, "reserved": reserved,
                             "process": measurement.get("process_bytes")}}
    micro = measurement.get("micro_steps", 1)
    notes = ("random weights from %s; fixed-length random tokens; %d steps x "
             "%d micro-steps; window from model init; peak in %s"
             % (config_name, measurement.get("steps", 0), micro,
                peak_phase or "n/a"))
    if run["grad_accum"] > micro:
        notes += "; grad_accum %d run as %d micro-steps" % (run["grad_accum"],
                                                          micro)
    quote = ("torch.cuda.max_memory_allocated %s, max_memory_reserved %s, "
             "NVML process %s bytes on %s (torch %s, CUDA %s, driver %s)"
             % (allocated, reserved, measurement.get("process_bytes"),
                env["gpu_name"], env.get("torch"), env.get("cuda"),
                env.get("driver")))
    return {
        "id": row_id, "source": SOURCE, "quote": quote,
        "measured_run": True, "trust": "high", "suspect": False,
        "run": out_run, "measured": measured, "notes": notes[:299],
        "orig": {"phase_peaks": phases, "host": env.get("host"),
                 "python": env.get("python"), "measured_at":
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }


def append_row(path, row):
    """Appends one JSON line with a single write(2) on an O_APPEND file, so
    concurrent or interrupted runs never leave a half line behind."""
    line = (json.dumps(row, separators=(", ", ": ")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.write(fd, line) != len(line):
            raise OSError("short write to %s" % path)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_matrix_entry(path, entry_id):
    """The matrix line with this id: {"id", "config", "run"}."""
    with open(path) as f:
        for lineno, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
            except ValueError as e:
                raise RunError("%s:%d: %s" % (path, lineno, e))
            if entry.get("id") == entry_id:
                return entry
    raise RunError("%s: no entry with id %r" % (path, entry_id))


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Measure the peak GPU memory of a training run and "
                    "append it as a calibration row.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a run object (JSON file)")
    src.add_argument("--id", help="an entry of --matrix")
    p.add_argument("--matrix", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "matrix.jsonl"))
    p.add_argument("--config", help="the model's config.json (with --run)")
    p.add_argument("--out", required=True, help="JSONL file to append to")
    p.add_argument("--steps", type=int, default=3,
                   help="optimizer steps to run (default 3)")
    p.add_argument("--row-id", help="id of the row (default: from the run)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.steps > 100:
        p.error("--steps must be in 1..100")
    if args.run and not args.config:
        p.error("--run needs --config")
    return args


def resolve(args):
    """(row id prefix, run, config path) from the arguments."""
    if args.id:
        entry = load_matrix_entry(args.matrix, args.id)
        config = os.path.join(os.path.dirname(os.path.abspath(args.matrix)),
                              entry["config"])
        return entry["id"], validate_run(entry["run"]), config
    with open(args.run) as f:
        try:
            run = json.load(f)
        except ValueError as e:
            raise RunError("%s: %s" % (args.run, e))
    run = validate_run(run.get("run", run))
    base = os.path.splitext(os.path.basename(args.run))[0]
    return base, run, args.config


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        prefix, run, config = resolve(args)
    except (RunError, OSError) as e:
        print("measure: %s" % e, file=sys.stderr)
        return 2
    if not os.path.isfile(config):
        print("measure: %s: no such config" % config, file=sys.stderr)
        return 2
    missing = missing_dependencies(run)
    for core in ("torch", "transformers"):
        if importlib.util.find_spec(core) is None:
            missing.insert(0, core)
    if missing:
        print("measure: skipped %s: %s not installed"
              % (prefix, ", ".join(missing)), file=sys.stderr)
        return 4
    import gpu_run  # the torch side, imported only where torch exists
    env = gpu_run.environment()
    measurement = gpu_run.measure_on_gpu(run, config, args.steps,
                                         MAX_MICRO_STEPS)
    row_id = args.row_id or "measure-%s-%s" % (prefix, gpu_slug(env["gpu_name"]))
    row = build_row(row_id, run, os.path.basename(config), measurement, env)
    append_row(args.out, row)
    print("measure: %s: allocated %.2f GiB, reserved %.2f GiB%s"
          % (row_id, (row["measured"]["bytes"] or 0) / 2**30,
             (row["measured"]["also"]["reserved"] or 0) / 2**30,
             " (out of memory)" if measurement.get("oom") else ""))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
