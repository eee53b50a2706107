#!/usr/bin/env python3
"""Regenerate matrix.jsonl (the runs tools/measure measures). Order: cheap and informative
first, so `run_matrix.sh --limit N` on a short GPU budget measures the most useful runs."""

import json
import os

MODELS = {
    "q05": ("Qwen/Qwen2-0.5B-Instruct", 0.5, "configs/Qwen__Qwen2-0.5B-Instruct.json"),
    "l1": ("meta-llama/Llama-3.2-1B", 1.2, "configs/meta-llama__Llama-3.2-1B.json"),
    "q3": ("Qwen/Qwen2.5-3B", 3.1, "configs/Qwen__Qwen2.5-3B.json"),
    "l8": ("meta-llama/Llama-3.1-8B", 8.0, "configs/meta-llama__Llama-3.1-8B.json"),
}
LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "targets": ["q", "k", "v", "o"]}
LORA_ALL = {"r": 16, "alpha": 32, "dropout": 0.05,
            "targets": ["q", "k", "v", "o", "gate", "up", "down"]}


def run(model, method="full", precision="bf16-mixed", mb=1, seq=512, ckpt=False,
        attn="sdpa", opt="adamw", lora=None, accum=1):
    name, params_b, _ = MODELS[model]
    training = method in ("full", "lora", "dora")
    return {
        "model": name, "params_b": params_b, "method": method, "precision": precision,
        "quant": None, "quant_storage": None,
        "lora": lora if method in ("lora", "dora") else None,
        "micro_batch": mb if method != "frozen" else None,
        "seq_len": seq if method != "frozen" else None,
        "grad_accum": accum if training else None,
        "grad_ckpt": ckpt if training else False, "attention": attn,
        "optimizer": opt if training else None, "optimizer_in_backward": False,
        "loss": "standard" if training else None,
        "packing": True if method != "frozen" else None, "compile": False,
        "activation_offload": False,
        "parallel": {"n_gpus": 1, "strategy": "single", "offload": None, "tp": None, "cp": None},
        "framework": {"name": "peft" if method in ("lora", "dora") else "other",
                      "version": "tools/measure", "torch": None, "transformers": None,
                      "peft": None, "bitsandbytes": None},
        "phases": {"frozen": None, "inference": "inference"}.get(method, "train"),
        "gpu": {"name": None, "memory_gib": None},
    }


E = []


def add(id_, model, **kw):
    E.append({"id": id_, "config": MODELS[model][2], "run": run(model, **kw)})


# 1. Cheapest and most telling: 0.5B, each axis flipped once against a base run.
add("q05-full-bf16m-adamw-s512", "q05")
add("q05-full-bf16m-adamw-s512-ckpt", "q05", ckpt=True)
add("q05-full-bf16m-adamw-s512-eager", "q05", attn="eager")
add("q05-full-bf16t-adamw-s512", "q05", precision="bf16-true")
add("q05-full-fp32-adamw-s512", "q05", precision="fp32")
add("q05-full-bf16m-sgd-s512", "q05", opt="sgd")
add("q05-full-bf16m-sgdm-s512", "q05", opt="sgd-momentum")
add("q05-full-bf16m-adafactor-s512", "q05", opt="adafactor")
add("q05-full-bf16m-adamwfused-s512", "q05", opt="adamw-fused")
add("q05-lora-bf16t-adamw-s512", "q05", method="lora", precision="bf16-true", lora=LORA)
add("q05-lora-bf16m-adamw-s512", "q05", method="lora", lora=LORA)
add("q05-frozen-bf16t", "q05", method="frozen", precision="bf16-true")
add("q05-inference-bf16t-s512", "q05", method="inference", precision="bf16-true")
# 2. 1B: sequence and micro-batch sweeps (activations and logits scale).
for seq in (256, 1024, 2048):
    add("l1-full-bf16m-adamw-s%d" % seq, "l1", seq=seq)
for mb in (2, 4):
    add("l1-full-bf16m-adamw-mb%d-s1024" % mb, "l1", mb=mb, seq=1024)
add("l1-full-bf16m-adamw-mb4-s1024-ckpt", "l1", mb=4, seq=1024, ckpt=True)
add("l1-full-bf16m-adamw-s1024-eager", "l1", seq=1024, attn="eager")
add("l1-full-bf16m-adamw-s2048-eager", "l1", seq=2048, attn="eager")
add("l1-full-bf16t-adamw-s1024", "l1", precision="bf16-true", seq=1024)
add("l1-full-bf16m-adafactor-s1024", "l1", opt="adafactor", seq=1024)
add("l1-full-bf16m-sgd-s1024", "l1", opt="sgd", seq=1024)
add("l1-full-bf16m-adamw-s1024-accum4", "l1", seq=1024, accum=4)
add("l1-lora-bf16t-adamw-s1024", "l1", method="lora", precision="bf16-true", lora=LORA, seq=1024)
add("l1-lora-bf16t-adamw-s1024-ckpt", "l1", method="lora", precision="bf16-true", lora=LORA,
    seq=1024, ckpt=True)
add("l1-lora-all-bf16t-adamw-s1024", "l1", method="lora", precision="bf16-true", lora=LORA_ALL,
    seq=1024)
add("l1-dora-bf16t-adamw-s1024", "l1", method="dora", precision="bf16-true", lora=LORA, seq=1024)
add("l1-lora-bf16m-adamw-mb4-s1024", "l1", method="lora", lora=LORA, mb=4, seq=1024)
# 3. 3B: full with checkpointing and cheaper optimizers, LoRA sweeps.
add("q3-full-bf16t-adamw-s1024-ckpt", "q3", precision="bf16-true", seq=1024, ckpt=True)
add("q3-full-bf16m-adamw-s1024-ckpt", "q3", seq=1024, ckpt=True)
add("q3-full-bf16m-sgd-s1024-ckpt", "q3", opt="sgd", seq=1024, ckpt=True)
add("q3-full-bf16m-adafactor-s1024-ckpt", "q3", opt="adafactor", seq=1024, ckpt=True)
add("q3-full-bf16m-adamw-s1024", "q3", seq=1024)
add("q3-lora-bf16t-adamw-s1024", "q3", method="lora", precision="bf16-true", lora=LORA, seq=1024)
add("q3-lora-bf16t-adamw-s2048", "q3", method="lora", precision="bf16-true", lora=LORA, seq=2048)
add("q3-lora-bf16t-adamw-s2048-ckpt", "q3", method="lora", precision="bf16-true", lora=LORA,
    seq=2048, ckpt=True)
add("q3-lora-bf16t-adamw-s2048-eager", "q3", method="lora", precision="bf16-true", lora=LORA,
    seq=2048, attn="eager")
add("q3-lora-bf16m-adamw-mb2-s1024", "q3", method="lora", lora=LORA, mb=2, seq=1024)
add("q3-lora-bf16t-adamw-mb4-s1024-ckpt", "q3", method="lora", precision="bf16-true", lora=LORA,
    mb=4, seq=1024, ckpt=True)
# 4. 8B: LoRA in bf16-true and bf16-true full with SGD/Adafactor (no full bf16-mixed AdamW:
# ~128 GB of weights, gradients and states does not fit 80 GB).
add("l8-frozen-bf16t", "l8", method="frozen", precision="bf16-true")
add("l8-lora-bf16t-adamw-s1024", "l8", method="lora", precision="bf16-true", lora=LORA, seq=1024)
add("l8-lora-bf16t-adamw-s1024-ckpt", "l8", method="lora", precision="bf16-true", lora=LORA,
    seq=1024, ckpt=True)
add("l8-lora-bf16t-adamw-s2048-ckpt", "l8", method="lora", precision="bf16-true", lora=LORA,
    seq=2048, ckpt=True)
add("l8-lora-bf16t-adamw-mb4-s1024-ckpt", "l8", method="lora", precision="bf16-true", lora=LORA,
    mb=4, seq=1024, ckpt=True)
add("l8-lora-all-bf16t-adamw-s1024-ckpt", "l8", method="lora", precision="bf16-true",
    lora=LORA_ALL, seq=1024, ckpt=True)
add("l8-lora-bf16t-adamw-s1024-eager", "l8", method="lora", precision="bf16-true", lora=LORA,
    seq=1024, attn="eager")
add("l8-full-bf16t-sgd-s1024-ckpt", "l8", precision="bf16-true", opt="sgd", seq=1024, ckpt=True)
add("l8-full-bf16t-adafactor-s1024-ckpt", "l8", precision="bf16-true", opt="adafactor",
    seq=1024, ckpt=True)
add("l8-inference-bf16t-s2048", "l8", method="inference", precision="bf16-true", seq=2048)

if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matrix.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for e in E:
            f.write(json.dumps(e) + "\n")
    print("%d runs -> %s" % (len(E), path))
