"""gpu_run.py - the torch side of tools/measure: build, train, read peaks.

Imported by measure.py only when torch and transformers are installed. The
peak of each phase is read with per-phase torch.cuda.reset_peak_memory_stats,
so the overall peak is the largest phase peak and the phase is known.
"""

import json
import os
import platform
import socket
import subprocess

import torch
import transformers

from measure import LORA_TARGETS, PHASES

DTYPES = {"bf16-true": torch.bfloat16, "bf16-mixed": torch.float32,
          "fp16-mixed": torch.float32, "fp32": torch.float32}
AUTOCAST = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}
ATTN_IMPL = {"eager": "eager", "sdpa": "sdpa", "flash2": "flash_attention_2"}


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def process_bytes():
    """This process's GPU memory as NVML counts it (nvidia-smi's number)."""
    pid = os.getpid()
    try:
        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if p.pid == pid and p.usedGpuMemory is not None:
                return int(p.usedGpuMemory)
    except Exception:  # pynvml missing or no permission: ask nvidia-smi
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            fields = [f.strip() for f in line.split(",")]
            if len(fields) == 2 and fields[0] == str(pid):
                return int(fields[1]) * 2**20
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    return None


def environment():
    props = torch.cuda.get_device_properties(0)
    driver = None
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10).stdout.split("\n")[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"gpu_name": props.name, "gpu_memory_bytes": props.total_memory,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": _version("peft"), "bitsandbytes": _version("bitsandbytes"),
            "cuda": torch.version.cuda, "driver": driver,
            "python": platform.python_version(), "host": socket.gethostname()}


class PhasePeaks:
    """Peak allocated/reserved per phase, the max over every step."""

    def __init__(self):
        self.peaks = {}
        self.process = None

    def start(self):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    def end(self, phase):
        torch.cuda.synchronize()
        p = self.peaks.setdefault(phase, {"allocated": 0, "reserved": 0})
        p["allocated"] = max(p["allocated"], torch.cuda.max_memory_allocated())
        p["reserved"] = max(p["reserved"], torch.cuda.max_memory_reserved())
        now = process_bytes()
        if now is not None:
            self.process = max(self.process or 0, now)


def _build(run, config_path):
    with open(config_path) as f:
        cfg_dict = json.load(f)
    model_type = cfg_dict.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **cfg_dict)
    kwargs = {"torch_dtype": DTYPES[run["precision"]],
              "attn_implementation": ATTN_IMPL[run["attention"]]}
    if run.get("quant"):
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=run["quant"] != "int8", load_in_8bit=run["quant"] == "int8",
            bnb_4bit_quant_type="fp4" if run["quant"] == "fp4" else "nf4",
            bnb_4bit_use_double_quant=run["quant"] == "nf4-dq",
            bnb_4bit_compute_dtype=torch.bfloat16)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, **kwargs)
    if run["method"] in ("lora", "dora", "qlora"):
        import peft
        lora = run["lora"]
        targets = ("all-linear" if "all-linear" in lora["targets"]
                   else [LORA_TARGETS[t] for t in lora["targets"]])
        if run["method"] == "qlora":
            model = peft.prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=run["grad_ckpt"])
        model = peft.get_peft_model(model, peft.LoraConfig(
            r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
            target_modules=targets, use_dora=run["method"] == "dora",
            task_type="CAUSAL_LM"))
    if run["grad_ckpt"]:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def _optimizer(run, params):
    name, lr = run["optimizer"], 1e-5
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, foreach=True)
    if name == "adamw-fused":
        return torch.optim.AdamW(params, lr=lr, fused=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adafactor":
        return transformers.optimization.Adafactor(
            params, lr=lr, scale_parameter=False, relative_step=False)
    import bitsandbytes as bnb
    return {"adamw-8bit": bnb.optim.AdamW8bit,
            "paged-adamw": bnb.optim.PagedAdamW32bit,
            "paged-adamw-8bit": bnb.optim.PagedAdamW8bit}[name](params, lr=lr)


def measure_on_gpu(run, config_path, steps, max_micro_steps):
    """Runs the steps; returns the measurement dict build_row() reads."""
    torch.manual_seed(0)
    peaks = PhasePeaks()
    micro = min(run["grad_accum"], max_micro_steps)
    result = {"phases": peaks.peaks, "oom": False, "steps": steps,
              "micro_steps": micro}
    try:
        peaks.start()
        model = _build(run, config_path)
        peaks.end("load")
        vocab = model.config.vocab_size
        shape = (run["micro_batch"], run["seq_len"])
        if run["method"] == "inference":
            model.eval()
            for _ in range(steps):
                ids = torch.randint(0, vocab, shape, device="cuda")
                peaks.start()
                with torch.no_grad():
                    model(input_ids=ids)
                peaks.end("forward")
        else:
            model.train()
            params = [p for p in model.parameters() if p.requires_grad]
            opt = _optimizer(run, params)
            autocast = AUTOCAST.get(run["precision"])
            for _ in range(steps):
                for _ in range(micro):
                    ids = torch.randint(0, vocab, shape, device="cuda")
                    peaks.start()
                    with torch.autocast("cuda", dtype=autocast,
                                        enabled=autocast is not None):
                        loss = model(input_ids=ids, labels=ids).loss / micro
                    peaks.end("forward")
                    peaks.start()
                    loss.backward()
                    del loss
                    peaks.end("backward")
                peaks.start()
                opt.step()
                opt.zero_grad(set_to_none=True)
                peaks.end("optimizer_step")
    except torch.cuda.OutOfMemoryError:
        result["oom"] = True
    result["process_bytes"] = peaks.process
    assert set(peaks.peaks) <= set(PHASES)
    return result
