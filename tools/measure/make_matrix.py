#!/usr/bin/env python3
"""make_matrix.py - writes matrix.jsonl, the runs tools/measure measures.

The matrix is data; this script is how it was made, so it can be changed
and regenerated rather than edited by hand. Cheap, informative runs come
first: a GPU session with little time runs the head of the file
(run_matrix.sh --limit N).
"""

import json
import os

MODELS = {  # short name -> (Hub id, config file)
    "qwen2-0.5b": ("Qwen/Qwen2-0.5B-Instruct", "Qwen__Qwen2-0.5B-Instruct.json"),
    "llama3.2-1b": ("meta-llama/Llama-3.2-1B", "meta-llama__Llama-3.2-1B.json"),
    "qwen2.5-3b": ("Qwen/Qwen2.5-3B", "Qwen__Qwen2.5-3B.json"),
    "llama3.1-8b": ("meta-llama/Llama-3.1-8B", "meta-llama__Llama-3.1-8B.json"),
}


def run(model, method="full", precision="bf16-mixed", mb=1, seq=1024,
        ckpt=False, attn="sdpa", optim="adamw", accum=1, r=16,
        targets=("q", "k", "v", "o")):
    hub, _ = MODELS[model]
    lora = ({"r": r, "alpha": 2 * r, "dropout": 0.0, "targets": list(targets)}
            if method in ("lora", "dora") else None)
    return {"model": hub, "params_b": None, "method": method,
            "precision": precision, "quant": None, "quant_storage": None,
            "lora": lora, "micro_batch": mb, "seq_len": seq,
            "grad_accum": accum, "grad_ckpt": ckpt, "attention": attn,
            "optimizer": optim, "optimizer_in_backward": None, "loss": None,
            "packing": None, "compile": None, "activation_offload": None,
            "parallel": {"n_gpus": 1, "strategy": "single", "offload": None,
                         "tp": None, "cp": None},
            "framework": {"name": "peft", "version": None, "torch": None,
                          "transformers": None, "peft": None,
                          "bitsandbytes": None},
            "phases": "train", "gpu": None}


def entries():
    out = []

    def add(name, model, **kw):
        out.append({"id": name, "config": "configs/" + MODELS[model][1],
                    "run": run(model, **kw)})

    # 1. The small models across every axis (seconds each).
    for m in ("qwen2-0.5b", "llama3.2-1b"):
        add(m + "-full-mixed", m)
        add(m + "-full-true", m, precision="bf16-true")
        add(m + "-full-ckpt", m, ckpt=True)
        add(m + "-full-eager", m, attn="eager")
        add(m + "-full-sgd", m, optim="sgd")
        add(m + "-full-sgdm", m, optim="sgd-momentum")
        add(m + "-full-adafactor", m, optim="adafactor")
        add(m + "-full-fused", m, optim="adamw-fused")
        add(m + "-full-accum2", m, accum=2)
        add(m + "-lora", m, method="lora", precision="bf16-true")
        add(m + "-lora-ckpt", m, method="lora", precision="bf16-true", ckpt=True)
        add(m + "-lora-all", m, method="lora", precision="bf16-true",
            targets=("all-linear",))
        add(m + "-lora-eager", m, method="lora", precision="bf16-true",
            attn="eager")
        add(m + "-dora", m, method="dora", precision="bf16-true")
    # 2. Sweeps on the 1B model: micro-batch and sequence length.
    for mb in (2, 4, 8):
        add("llama3.2-1b-full-mb%d" % mb, "llama3.2-1b", mb=mb)
        add("llama3.2-1b-lora-mb%d" % mb, "llama3.2-1b", method="lora",
            precision="bf16-true", mb=mb)
    for seq in (256, 2048, 4096):
        add("llama3.2-1b-full-seq%d" % seq, "llama3.2-1b", seq=seq)
        add("llama3.2-1b-lora-ckpt-seq%d" % seq, "llama3.2-1b", method="lora",
            precision="bf16-true", ckpt=True, seq=seq)
    # 3. A 3B model.
    m = "qwen2.5-3b"
    add(m + "-full-true", m, precision="bf16-true")
    add(m + "-full-ckpt", m, ckpt=True, mb=2)
    add(m + "-full-adafactor", m, precision="bf16-true", optim="adafactor")
    add(m + "-lora", m, method="lora", precision="bf16-true", mb=2)
    add(m + "-lora-ckpt-seq4096", m, method="lora", precision="bf16-true",
        ckpt=True, seq=4096)
    # 4. An 8B model: LoRA only (full AdamW fine-tuning needs > 80 GB).
    m = "llama3.1-8b"
    add(m + "-lora", m, method="lora", precision="bf16-true")
    add(m + "-lora-ckpt-mb4", m, method="lora", precision="bf16-true",
        ckpt=True, mb=4)
    add(m + "-lora-all-ckpt-seq4096", m, method="lora", precision="bf16-true",
        ckpt=True, seq=4096, targets=("all-linear",))
    add(m + "-full-true-sgd-ckpt", m, precision="bf16-true", optim="sgd",
        ckpt=True)
    return out


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "matrix.jsonl")
    with open(path, "w") as f:
        for e in entries():
            f.write(json.dumps(e) + "\n")
    print("%s: %d runs" % (path, len(entries())))
