"""The torch part of tools/measure: build the model, run the steps, read the peaks.

Imported lazily by measure.py only when a measurement runs. Untested without a GPU.
"""

import os
import platform
import subprocess

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

from measure import Skip, ADAPTER_METHODS, TRAINING_METHODS

PEFT_TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
                "gate": "gate_proj", "up": "up_proj", "down": "down_proj",
                "embed": "embed_tokens", "lm_head": "lm_head"}
ATTN_IMPL = {"eager": "eager", "sdpa": "sdpa", "flash2": "flash_attention_2"}


def _version(mod_name):
    try:
        mod = __import__(mod_name)
        return getattr(mod, "__version__", "unknown")
    except Exception:
        return None


def _nvml():
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml
    except Exception:
        return None


def _device_index(device):
    return torch.device(device).index or 0


def environment(device):
    idx = _device_index(device)
    props = torch.cuda.get_device_properties(idx)
    env = {"gpu_name": props.name, "gpu_memory_bytes": props.total_memory,
           "torch": torch.__version__, "cuda": torch.version.cuda, "driver": None,
           "transformers": transformers.__version__, "peft": _version("peft"),
           "bitsandbytes": _version("bitsandbytes"), "flash_attn": _version("flash_attn"),
           "python": platform.python_version(), "gpu_memory_source": "torch total_memory"}
    nv = _nvml()
    if nv is not None:
        h = nv.nvmlDeviceGetHandleByIndex(idx)
        env["gpu_memory_bytes"] = int(nv.nvmlDeviceGetMemoryInfo(h).total)
        env["gpu_memory_source"] = "nvml memory.total"
        d = nv.nvmlSystemGetDriverVersion()
        env["driver"] = d.decode() if isinstance(d, bytes) else d
    else:
        try:
            out = subprocess.run(["nvidia-smi", "-i", str(idx), "--query-gpu=driver_version,"
                                  "memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=20).stdout
            drv, mib = [x.strip() for x in out.strip().splitlines()[0].split(",")]
            env["driver"] = drv
            env["gpu_memory_bytes"] = int(mib) * 2**20
            env["gpu_memory_source"] = "nvidia-smi memory.total"
        except Exception:
            pass
    return env


def process_memory(device):
    """(bytes, method) used by this process as the driver reports it, or (None, reason)."""
    pid = os.getpid()
    nv = _nvml()
    procs = None
    if nv is not None:
        try:
            h = nv.nvmlDeviceGetHandleByIndex(_device_index(device))
            procs = [(p.pid, p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(h)]
            method = "nvml"
        except Exception:
            procs = None
    if procs is None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                  "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=20).stdout
            procs = []
            for line in out.strip().splitlines():
                p, mib = [x.strip() for x in line.split(",")]
                procs.append((int(p), int(mib) * 2**20))
            method = "nvidia-smi"
        except Exception:
            return None, "no nvml and no nvidia-smi"
    for p, used in procs:
        if p == pid and used is not None:
            return int(used), method + " own pid"
    if len(procs) == 1 and procs[0][1] is not None:
        # In a container the driver reports host pids; one compute process is this one.
        return int(procs[0][1]), method + " only compute process (pid namespace differs)"
    return None, method + ": own pid not found"


class Peaks:
    """Per-phase peaks: reset the allocator's peak counters before a phase, read them after."""

    def __init__(self, device):
        self.device = device
        self.phases = {}
        self.process = None
        self.process_method = None
        self.current = None

    def start(self, phase):
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.current = phase

    def stop(self):
        torch.cuda.synchronize(self.device)
        a = torch.cuda.max_memory_allocated(self.device)
        r = torch.cuda.max_memory_reserved(self.device)
        p = self.phases.setdefault(self.current, {"allocated": 0, "reserved": 0, "process": None})
        p["allocated"] = max(p["allocated"], a)
        p["reserved"] = max(p["reserved"], r)
        used, method = process_memory(self.device)
        if used is not None:
            p["process"] = max(p["process"] or 0, used)
            self.process = max(self.process or 0, used)
        self.process_method = method
        self.current = None

    def summary(self):
        if not self.phases:
            return None, None, None
        peak_phase = max(self.phases, key=lambda k: self.phases[k]["allocated"])
        alloc = max(p["allocated"] for p in self.phases.values())
        res = max(p["reserved"] for p in self.phases.values())
        return peak_phase, alloc, res


def build_model(run, cfg, device):
    cfg = dict(cfg)
    model_type = cfg.pop("model_type")
    for k in ("_name_or_path", "transformers_version", "architectures"):
        cfg.pop(k, None)
    config = AutoConfig.for_model(model_type, **cfg)
    config.use_cache = False
    kwargs = {}
    if run["attention"] is not None:
        kwargs["attn_implementation"] = ATTN_IMPL[run["attention"]]
    dtype = {"bf16-true": torch.bfloat16}.get(run["precision"], torch.float32)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, torch_dtype=dtype, **kwargs)
    return model


def apply_method(model, run):
    m = run["method"]
    if m == "full":
        model.requires_grad_(True)
        return model
    if m in ADAPTER_METHODS:
        from peft import LoraConfig, get_peft_model
        lora = run["lora"]
        targets = lora["targets"] or ["q", "v"]
        if targets == ["all-linear"]:
            target_modules = "all-linear"
        else:
            target_modules = [PEFT_TARGETS[t] for t in targets]
        pc = LoraConfig(r=lora["r"] or 8, lora_alpha=lora["alpha"] or 16,
                        lora_dropout=lora["dropout"] or 0.0, target_modules=target_modules,
                        use_dora=(m == "dora"), task_type="CAUSAL_LM")
        return get_peft_model(model, pc)
    model.requires_grad_(False)
    return model


def make_optimizer(run, params):
    o = run["optimizer"]
    lr = 1e-5
    if o == "adamw":
        return torch.optim.AdamW(params, lr=lr, foreach=True)
    if o == "adamw-fused":
        return torch.optim.AdamW(params, lr=lr, fused=True)
    if o == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=True)
    if o == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if o == "sgd-momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if o == "adafactor":
        from transformers.optimization import Adafactor
        return Adafactor(params, lr=lr, scale_parameter=False, relative_step=False,
                         warmup_init=False)
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise Skip("bitsandbytes not installed")
    cls = {"adamw-8bit": bnb.optim.AdamW8bit, "paged-adamw": bnb.optim.PagedAdamW,
           "paged-adamw-8bit": bnb.optim.PagedAdamW8bit, "lion": bnb.optim.Lion,
           "lion-8bit": bnb.optim.Lion8bit, "adam-8bit": bnb.optim.Adam8bit}[o]
    return cls(params, lr=lr)


def measure(run, cfg, steps, device, seed):
    if not torch.cuda.is_available():
        raise Skip("no CUDA device visible to torch")
    torch.manual_seed(seed)
    torch.cuda.set_device(device)
    env = environment(device)
    if run["attention"] == "flash2" and env["flash_attn"] is None:
        raise Skip("flash_attn not installed")
    peaks = Peaks(device)
    m = {"oom": False, "steps": steps, "error": None}
    method = run["method"]
    try:
        peaks.start("load")
        model = build_model(run, cfg, device)
        model = apply_method(model, run)
        if run["grad_ckpt"] and method in TRAINING_METHODS:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
            if method in ADAPTER_METHODS:
                model.enable_input_require_grads()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = make_optimizer(run, params) if method in TRAINING_METHODS else None
        peaks.stop()
        if method != "frozen":
            vocab = cfg["vocab_size"]
            g = torch.Generator(device=device).manual_seed(seed)
            shape = (run["micro_batch"], run["seq_len"])
            ids = torch.randint(0, vocab, shape, device=device, generator=g)
            run_steps(model, opt, run, ids, steps, peaks)
    except torch.cuda.OutOfMemoryError as e:
        m["oom"] = True
        m["error"] = str(e).splitlines()[0] if str(e) else "CUDA out of memory"
        if peaks.current is not None:
            failed = peaks.current
            peaks.stop()
            m["peak_phase"] = failed
    peak_phase, alloc, res = peaks.summary()
    m.setdefault("peak_phase", peak_phase)
    m.update({"allocated": alloc, "reserved": res, "process": peaks.process,
              "process_method": peaks.process_method, "phases": peaks.phases})
    return m, env


def run_steps(model, opt, run, ids, steps, peaks):
    prec = run["precision"]
    autocast_dtype = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}.get(prec)
    scaler = torch.amp.GradScaler("cuda") if prec == "fp16-mixed" else None
    accum = run["grad_accum"] or 1

    def forward():
        if autocast_dtype is not None:
            with torch.autocast("cuda", dtype=autocast_dtype):
                return model(input_ids=ids, labels=ids).loss
        return model(input_ids=ids, labels=ids).loss

    if run["method"] == "inference":
        model.eval()
        with torch.inference_mode():
            for _ in range(steps):
                peaks.start("forward")
                forward()
                peaks.stop()
        return
    model.train()
    for _ in range(steps):
        for _ in range(accum):
            peaks.start("forward")
            loss = forward() / accum
            peaks.stop()
            peaks.start("backward")
            (scaler.scale(loss) if scaler else loss).backward()
            del loss
            peaks.stop()
        peaks.start("optimizer_step")
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        peaks.stop()
