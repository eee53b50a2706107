#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests/test_hub.c.

    hub_server.py PORT_FILE

Binds port 0, writes the port to PORT_FILE and serves fixture repositories
under /{org}/{name}/resolve/{revision}/{file} the way the Hub does: Range
requests (206 + Content-Range), X-Repo-Commit, X-Error-Code on errors
(RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). The fixtures
are built here with known tensors; test_hub.c states their counts by hand.
GET /__stats returns the bytes served of .safetensors files and the request
count, so a test can check that no weights were downloaded.
"""
import json
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
COMMIT_V1 = "89abcdef0123456789abcdef0123456789abcdef"
TOKEN = "good-token"
DATA_PAD = 1 << 20  # weights nobody may download: 1 MiB after the headers

# A Llama of vocab 64, hidden 16, 2 layers, 2 heads (head_dim 8), 1 kv head,
# intermediate 32, untied.
TINY_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 2,
    "num_key_value_heads": 1, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def llama_tensors(extra=None):
    t = {"model.embed_tokens.weight": [64, 16], "model.norm.weight": [16],
         "lm_head.weight": [64, 16]}
    for i in range(2):
        p = "model.layers.%d." % i
        t[p + "self_attn.q_proj.weight"] = [16, 16]
        t[p + "self_attn.k_proj.weight"] = [8, 16]
        t[p + "self_attn.v_proj.weight"] = [8, 16]
        t[p + "self_attn.o_proj.weight"] = [16, 16]
        t[p + "mlp.gate_proj.weight"] = [32, 16]
        t[p + "mlp.up_proj.weight"] = [32, 16]
        t[p + "mlp.down_proj.weight"] = [16, 32]
        t[p + "input_layernorm.weight"] = [16]
        t[p + "post_attention_layernorm.weight"] = [16]
    for k, v in (extra or {}).items():
        t[k] = v
    return {k: ("BF16", v) for k, v in t.items()}


SIZES = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4, "U8": 1, "F8_E4M3": 1}


def safetensors(tensors, pad=DATA_PAD):
    header, off = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"\0" * (off + pad)


def gptq_tensors():
    t = llama_tensors()
    for i in range(2):
        p = "model.layers.%d.self_attn.q_proj." % i
        del t[p + "weight"]
        t[p + "qweight"] = ("I32", [2, 16])
        t[p + "qzeros"] = ("I32", [1, 2])
        t[p + "scales"] = ("F16", [1, 16])
        t[p + "g_idx"] = ("I32", [16])
    return t


def split(tensors):
    names = sorted(tensors)
    a = {k: tensors[k] for k in names[: len(names) // 2]}
    b = {k: tensors[k] for k in names[len(names) // 2:]}
    return a, b


def build_repos():
    cfg = json.dumps(TINY_CONFIG).encode()
    repos = {}
    repos["test-org/tiny-llama"] = {
        "config.json": cfg, "model.safetensors": safetensors(llama_tensors())}
    # 16 parameters the config does not describe, over two shards.
    a, b = split(llama_tensors({"model.extra_scale.weight": [4, 4]}))
    repos["test-org/sharded"] = {
        "config.json": cfg,
        "model-00001-of-00002.safetensors": safetensors(a),
        "model-00002-of-00002.safetensors": safetensors(b),
        "model.safetensors.index.json": json.dumps({
            "metadata": {"total_size": 0},
            "weight_map": dict([(k, "model-00001-of-00002.safetensors")
                                for k in a] +
                               [(k, "model-00002-of-00002.safetensors")
                                for k in b])}).encode(),
    }
    repos["test-org/gated"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/flaky"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/broken"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/stall"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/norange"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/slow"] = dict(repos["test-org/tiny-llama"])
    repos["test-org/no-safetensors"] = {"config.json": cfg,
                                        "pytorch_model.bin": b"\0" * 64}
    full = safetensors(llama_tensors())
    repos["test-org/truncated"] = {"config.json": cfg,
                                   "model.safetensors": full[:200]}
    repos["test-org/huge"] = {
        "config.json": cfg,
        "model.safetensors": struct.pack("<Q", 10 * 10**9) + b"{}" * 8}
    bad = b'{"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]'
    bad += b" " * (-len(bad) % 8)
    repos["test-org/badjson"] = {
        "config.json": cfg,
        "model.safetensors": struct.pack("<Q", len(bad)) + bad + b"\0" * 8}
    gcfg = dict(TINY_CONFIG, quantization_config={"quant_method": "gptq",
                                                  "bits": 4})
    repos["test-org/gptq"] = {"config.json": json.dumps(gcfg).encode(),
                              "model.safetensors": safetensors(gptq_tensors())}
    return repos


REPOS = build_repos()
REVISIONS = {"main": COMMIT, COMMIT: COMMIT, "v1": COMMIT_V1,
             COMMIT_V1: COMMIT_V1}
STATS = {"requests": 0, "safetensors_bytes": 0, "flaky": 0}
LOCK = threading.Lock()


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        # libcurl closes kept-alive connections and aborts bodies it does
        # not want: not errors of the server.
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass

    def fail(self, status, code):
        body = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            STATS["requests"] += 1
        if self.path == "/__stats":
            body = json.dumps(STATS).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        parts = self.path.split("/")
        # ['', org, name, 'resolve', rev, file]
        if len(parts) != 6 or parts[3] != "resolve":
            return self.fail(404, "RepoNotFound")
        repo, rev, name = parts[1] + "/" + parts[2], parts[4], parts[5]
        rev = rev.replace("%2F", "/")
        if repo not in REPOS:
            # the Hub answers 401 to anonymous requests for unknown repos
            auth = self.headers.get("Authorization")
            return self.fail(404 if auth else 401, "RepoNotFound")
        if repo == "test-org/gated":
            auth = self.headers.get("Authorization")
            if not auth:
                return self.fail(401, "GatedRepo")
            if auth != "Bearer " + TOKEN:
                return self.fail(403, "GatedRepo")
        if repo == "test-org/flaky":
            with LOCK:
                STATS["flaky"] += 1
                n = STATS["flaky"]
            if n % 2 == 1:  # every other request fails once
                return self.fail(503, "ServiceUnavailable")
        if repo == "test-org/broken":
            return self.fail(500, "InternalError")
        if repo == "test-org/stall":
            time.sleep(5)
        if repo == "test-org/slow" and name == "config.json":
            time.sleep(1.6)  # long enough for the progress line
        if rev not in REVISIONS:
            return self.fail(404, "RevisionNotFound")
        files = REPOS[repo]
        if name not in files:
            return self.fail(404, "EntryNotFound")
        data = files[name]
        total = len(data)
        rng = self.headers.get("Range")
        status = 200
        if rng and repo != "test-org/norange":
            a, b = rng.replace("bytes=", "").split("-")
            a, b = int(a), min(int(b), total - 1)
            if a >= total:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % total)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = data[a:b + 1]
            status = 206
        self.send_response(status)
        self.send_header("X-Repo-Commit", REVISIONS[rev])
        self.send_header("Content-Length", str(len(data)))
        if status == 206:
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (a, a + len(data) - 1, total))
        # Counted before sending: once the client has it, a /__stats it
        # asks next must include it.
        if name.endswith(".safetensors"):
            with LOCK:
                STATS["safetensors_bytes"] += len(data)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a server ignoring Range)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
