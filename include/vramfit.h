/*
 * vramfit.h - will this training run fit on my GPU, and what is the fastest
 * way to make it fit?
 *
 * This is the one public header of libvramfit. Everything the command-line
 * tool does, it does through the declarations below.
 *
 * Conventions
 * - Every function that can fail returns a vf_status and, when given a
 *   non-NULL vf_error, writes one line saying what failed into it.
 * - Structs named vf_* without a _new/_free pair are plain values: the caller
 *   owns them, they hold no pointers to heap memory, copying them is fine.
 *   Functions that allocate say so with _new/_load, and pair with _free.
 * - Byte counts are uint64_t and every sum or product that forms one is
 *   overflow-checked; an input that would overflow is an error, never a
 *   wrapped-around number.
 * - Enum tables have a *_COUNT sentinel and a *_name()/ *_from_name() pair;
 *   names are the lowercase strings of the calibration schema
 *   (docs/run-schema.md).
 */
#ifndef VRAMFIT_H
#define VRAMFIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the library's interface: exported from the
 * shared library, which builds with hidden visibility so that nothing
 * else is. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define VRAMFIT_VERSION_MAJOR 0
#define VRAMFIT_VERSION_MINOR 1
#define VRAMFIT_VERSION_PATCH 0
#define VRAMFIT_VERSION "0.1.0"

/* Library version at run time (may differ from VRAMFIT_VERSION). */
const char *vf_version(void);

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

typedef enum vf_status {
	VF_OK = 0,
	VF_EINVAL,      /* a value is out of range or malformed */
	VF_ENOMEM,      /* out of host memory */
	VF_EOVERFLOW,   /* a byte count would not fit in 64 bits */
	VF_EIO,         /* a file could not be read or written */
	VF_EPARSE,      /* JSON/YAML/CSV could not be parsed */
	VF_ENOTFOUND,   /* unknown model, GPU, file or key */
	VF_EUNSUPPORTED,/* a valid input this version cannot model */
	VF_EEXIST,      /* refusing to overwrite an existing file */
	VF_ENET,        /* network failure */
	VF_EAUTH,       /* the server wants (other) credentials */
	VF_ENODEV,      /* no GPU driver or device */
	VF_STATUS_COUNT
} vf_status;

#define VF_ERROR_MAX 512

typedef struct vf_error {
	vf_status status;
	char message[VF_ERROR_MAX]; /* one line, no trailing newline */
} vf_error;

const char *vf_status_name(vf_status status);

/* ------------------------------------------------------------------------
 * Data types
 * ---------------------------------------------------------------------- */

typedef enum vf_dtype {
	VF_DTYPE_FP32,
	VF_DTYPE_FP16,
	VF_DTYPE_BF16,
	VF_DTYPE_FP8,
	VF_DTYPE_INT8,
	VF_DTYPE_NF4,
	VF_DTYPE_FP4,
	VF_DTYPE_FP64,
	VF_DTYPE_COUNT
} vf_dtype;

const char *vf_dtype_name(vf_dtype dtype);
/* Accepts torch and HF spellings: "float32", "fp32", "bfloat16", "bf16"... */
bool vf_dtype_from_name(const char *name, vf_dtype *out);
/* Storage bits per element of a dense tensor of this dtype (4 for NF4/FP4). */
unsigned vf_dtype_bits(vf_dtype dtype);

/* ------------------------------------------------------------------------
 * Model architecture
 * ---------------------------------------------------------------------- */

typedef enum vf_mlp_kind {
	VF_MLP_PLAIN, /* two matrices with an activation (GeLU): fc1, fc2 */
	VF_MLP_GATED, /* three matrices (SwiGLU, GeGLU): gate, up, down */
	VF_MLP_KIND_COUNT
} vf_mlp_kind;

typedef enum vf_norm_kind {
	VF_NORM_RMS,        /* RMSNorm: weight only */
	VF_NORM_LAYER,      /* LayerNorm: weight and bias */
	VF_NORM_LAYER_NOBIAS, /* LayerNorm without bias (weight only) */
	VF_NORM_NONPARAM,   /* LayerNorm without any parameters (OLMo) */
	VF_NORM_KIND_COUNT
} vf_norm_kind;

/*
 * A decoder-only transformer as its config.json describes it. Zero means
 * "absent" for the optional parts (MoE, MLA, sliding window).
 */
typedef struct vf_arch {
	char model_type[32];      /* HF model_type, e.g. "llama" */
	uint64_t vocab_size;
	uint64_t hidden_size;
	uint64_t intermediate_size; /* dense MLP width */
	uint64_t num_layers;
	uint64_t num_heads;
	uint64_t num_kv_heads;    /* == num_heads for MHA, 1 for MQA */
	uint64_t head_dim;        /* usually hidden_size / num_heads */
	uint64_t max_positions;   /* learned position table rows, 0 for RoPE */
	bool tie_embeddings;
	vf_mlp_kind mlp;
	vf_norm_kind norm;
	unsigned norms_per_layer; /* 2 usual, 1 parallel blocks, 4 Gemma-2 */
	bool qkv_bias;            /* biases on q, k, v */
	bool o_bias;              /* bias on the attention output */
	bool mlp_bias;            /* biases on the MLP matrices */
	bool lm_head_bias;
	bool qk_norm;             /* per-head norm of q and k (Qwen3) */
	bool qk_norm_full;        /* q/k norm over all heads (OLMo-2) */
	bool fused_qkv;           /* one q|k|v matrix (GPT-2, Falcon, Phi-3) */
	bool fused_gate_up;       /* one gate|up matrix (Phi-3) */
	bool parallel_block;      /* attention and MLP read one norm (Phi, Falcon) */
	/* Mixture of experts (num_experts == 0: dense). */
	uint64_t num_experts;
	uint64_t experts_per_token;
	uint64_t expert_intermediate_size;
	uint64_t num_shared_experts;
	uint64_t shared_expert_intermediate_size; /* total width of the shared MLP */
	bool shared_expert_gate;  /* Qwen2-MoE sigmoid gate on the shared expert */
	uint64_t first_dense_layers; /* leading layers with a dense MLP */
	/* Multi-head latent attention (DeepSeek-V2/V3; kv_lora_rank == 0: none). */
	uint64_t q_lora_rank;
	uint64_t kv_lora_rank;
	uint64_t qk_rope_head_dim;
	uint64_t qk_nope_head_dim;
	uint64_t v_head_dim;
	uint64_t sliding_window;  /* 0: full attention */
	vf_dtype dtype;           /* torch_dtype the checkpoint is stored in */
} vf_arch;

/* The roles a linear layer plays, used for LoRA targets and quantization. */
typedef enum vf_role {
	VF_ROLE_Q, VF_ROLE_K, VF_ROLE_V, VF_ROLE_QKV, VF_ROLE_O,
	VF_ROLE_GATE, VF_ROLE_UP, VF_ROLE_GATE_UP, VF_ROLE_DOWN,
	VF_ROLE_FC1, VF_ROLE_FC2,
	VF_ROLE_ROUTER,
	VF_ROLE_EMBED, VF_ROLE_LM_HEAD,
	VF_ROLE_COUNT
} vf_role;

const char *vf_role_name(vf_role role);

/* One kind of linear layer in a decoder layer. */
typedef struct vf_linear {
	vf_role role;
	uint64_t in_features;
	uint64_t out_features;
	bool bias;
	bool expert;              /* a routed expert (counted in `experts`) */
	uint64_t per_layer;       /* copies per layer (experts: num_experts) */
	uint64_t active_per_token;/* copies a token passes through (top-k) */
	uint64_t layers;          /* layers that have it */
} vf_linear;

#define VF_MAX_LINEARS 24

/* Exact parameter counts, per module. */
typedef struct vf_param_counts {
	uint64_t embed;           /* token embedding */
	uint64_t positions;       /* learned position embedding */
	uint64_t attention;       /* all attention linears, all layers */
	uint64_t mlp;             /* dense MLP linears incl. shared experts */
	uint64_t experts;         /* routed expert linears */
	uint64_t router;
	uint64_t norms;           /* every norm incl. the final one */
	uint64_t lm_head;         /* 0 when tied to the embedding */
	uint64_t total;
} vf_param_counts;

/*
 * A model ready for estimation: its architecture, the linear layers derived
 * from it and its exact parameter counts. A plain value (no heap memory).
 */
typedef struct vf_model {
	char name[128];           /* Hub id or given name */
	vf_arch arch;
	vf_linear linears[VF_MAX_LINEARS];
	unsigned n_linears;
	vf_param_counts params;
	uint64_t largest_linear;  /* elements of the biggest single matrix */
} vf_model;

/* Validate an architecture and derive linears and parameter counts. */
vf_status vf_model_init(vf_model *model, const char *name, const vf_arch *arch,
			vf_error *err);

/* Parse a HF config.json text into a model. `name` may be NULL. */
vf_status vf_model_from_config_json(vf_model *model, const char *name,
				    const char *json, size_t len, vf_error *err);

/* Read a config.json file into a model. */
vf_status vf_model_from_config_file(vf_model *model, const char *path,
				    vf_error *err);

/* Built-in models (data/models/, embedded at build time). */
size_t vf_builtin_model_count(void);
const char *vf_builtin_model_name(size_t index);
/* Hub id, a short alias ("llama-2-7b") or a known variant/re-upload. */
vf_status vf_builtin_model(vf_model *model, const char *name, vf_error *err);

/* The model_type values the config reader understands, NULL-terminated. */
const char *const *vf_supported_model_types(void);

/* ------------------------------------------------------------------------
 * Run description (the `run` object of docs/run-schema.md)
 * ---------------------------------------------------------------------- */

/* Every enum has an UNSET value 0: "not stated, use the framework default". */

typedef enum vf_method {
	VF_METHOD_UNSET, VF_METHOD_FULL, VF_METHOD_LORA, VF_METHOD_QLORA,
	VF_METHOD_DORA, VF_METHOD_FROZEN_SUBSET, VF_METHOD_FROZEN,
	VF_METHOD_INFERENCE,
	VF_METHOD_COUNT
} vf_method;

typedef enum vf_precision {
	VF_PRECISION_UNSET, VF_PRECISION_FP32, VF_PRECISION_FP16_MIXED,
	VF_PRECISION_BF16_MIXED, VF_PRECISION_FP16_TRUE, VF_PRECISION_BF16_TRUE,
	VF_PRECISION_COUNT
} vf_precision;

typedef enum vf_quant {
	VF_QUANT_NONE, VF_QUANT_NF4, VF_QUANT_NF4_DQ, VF_QUANT_FP4,
	VF_QUANT_FP4_DQ, VF_QUANT_INT8,
	VF_QUANT_COUNT
} vf_quant;

typedef enum vf_optimizer {
	VF_OPTIM_UNSET, VF_OPTIM_ADAMW, VF_OPTIM_ADAMW_FUSED, VF_OPTIM_ADAMW_8BIT,
	VF_OPTIM_PAGED_ADAMW, VF_OPTIM_PAGED_ADAMW_8BIT, VF_OPTIM_ADAFACTOR,
	VF_OPTIM_SGD, VF_OPTIM_SGD_MOMENTUM, VF_OPTIM_LION, VF_OPTIM_LION_8BIT,
	VF_OPTIM_ADAM, VF_OPTIM_ADAM_8BIT,
	VF_OPTIM_COUNT
} vf_optimizer;

typedef enum vf_ckpt {
	VF_CKPT_UNSET, VF_CKPT_OFF, VF_CKPT_ON, VF_CKPT_OFFLOAD,
	VF_CKPT_COUNT
} vf_ckpt;

typedef enum vf_attention {
	VF_ATTN_UNSET, VF_ATTN_EAGER, VF_ATTN_SDPA, VF_ATTN_FLASH2, VF_ATTN_FLEX,
	VF_ATTN_COUNT
} vf_attention;

typedef enum vf_loss {
	VF_LOSS_UNSET, VF_LOSS_STANDARD, VF_LOSS_CHUNKED, VF_LOSS_FUSED,
	VF_LOSS_COUNT
} vf_loss;

typedef enum vf_objective {
	VF_OBJ_UNSET, VF_OBJ_SFT, VF_OBJ_CPT, VF_OBJ_PRETRAIN, VF_OBJ_DPO,
	VF_OBJ_KTO,
	VF_OBJ_COUNT
} vf_objective;

typedef enum vf_strategy {
	VF_STRATEGY_UNSET, VF_STRATEGY_SINGLE, VF_STRATEGY_DDP,
	VF_STRATEGY_FSDP, VF_STRATEGY_ZERO1, VF_STRATEGY_ZERO2,
	VF_STRATEGY_ZERO3,
	VF_STRATEGY_COUNT
} vf_strategy;

typedef enum vf_offload {
	VF_OFFLOAD_NONE, VF_OFFLOAD_OPTIMIZER, VF_OFFLOAD_PARAMS,
	VF_OFFLOAD_OPTIMIZER_PARAMS,
	VF_OFFLOAD_COUNT
} vf_offload;

typedef enum vf_framework {
	VF_FW_HF_TRAINER, VF_FW_TRL, VF_FW_PEFT, VF_FW_FMS_HF_TUNING,
	VF_FW_LITGPT, VF_FW_TORCHTUNE, VF_FW_TORCHTITAN, VF_FW_LIGHTNING,
	VF_FW_UNSLOTH, VF_FW_LLAMA_FACTORY, VF_FW_FSDP_QLORA, VF_FW_OTHER,
	VF_FW_COUNT
} vf_framework;

/* Packages whose version changed what a training step allocates; the
 * rules are in docs/memory-model.md, "Framework versions". */
typedef enum vf_package {
	VF_PKG_TORCH, VF_PKG_TRANSFORMERS, VF_PKG_PEFT, VF_PKG_TRL,
	VF_PKG_BITSANDBYTES,
	VF_PKG_COUNT
} vf_package;

/* A version packed so that it compares as a number; 0: not stated. */
#define VF_VERSION(major, minor, patch)                                        \
	((uint32_t)(major) * 1000000u + (uint32_t)(minor) * 1000u +            \
	 (uint32_t)(patch))

typedef enum vf_phases {
	VF_PHASES_UNSET, VF_PHASES_TRAIN, VF_PHASES_TRAIN_EVAL,
	VF_PHASES_TRAIN_GENERATE, VF_PHASES_INFERENCE,
	VF_PHASES_COUNT
} vf_phases;

/* LoRA targets as a bit set of (1u << vf_role). */
typedef uint32_t vf_targets;
#define VF_TARGET(role) ((vf_targets)1u << (role))
#define VF_TARGETS_ALL_LINEAR                                                  \
	(VF_TARGET(VF_ROLE_Q) | VF_TARGET(VF_ROLE_K) | VF_TARGET(VF_ROLE_V) |  \
	 VF_TARGET(VF_ROLE_QKV) | VF_TARGET(VF_ROLE_O) |                       \
	 VF_TARGET(VF_ROLE_GATE) | VF_TARGET(VF_ROLE_UP) |                     \
	 VF_TARGET(VF_ROLE_GATE_UP) | VF_TARGET(VF_ROLE_DOWN) |                \
	 VF_TARGET(VF_ROLE_FC1) | VF_TARGET(VF_ROLE_FC2))

typedef struct vf_lora {
	uint32_t r;               /* 0: not stated */
	double alpha;             /* no effect on memory; kept for configs */
	double dropout;           /* < 0: not stated */
	vf_targets targets;       /* 0: not stated (framework default) */
} vf_lora;

typedef struct vf_run {
	vf_framework framework;
	vf_method method;
	vf_precision precision;
	vf_quant quant;
	vf_lora lora;             /* used when the method attaches adapters */
	uint32_t micro_batch;     /* 0: not stated */
	uint32_t seq_len;
	uint32_t grad_accum;
	vf_ckpt grad_ckpt;
	uint32_t ckpt_every;      /* checkpoint every k-th layer; 0/1: all */
	vf_attention attention;
	vf_optimizer optimizer;
	int8_t optimizer_in_backward; /* -1 unset, 0 no, 1 yes */
	vf_loss loss;
	int8_t packing;           /* -1 unset */
	int8_t compile;           /* -1 unset */
	int8_t activation_offload;/* -1 unset */
	vf_objective objective;
	uint32_t n_gpus;          /* 0: not stated (1) */
	vf_strategy strategy;
	vf_offload offload;
	uint64_t reduce_bucket_elems; /* ZeRO/DDP bucket, 0: framework default */
	vf_phases phases;
	vf_dtype quant_storage;   /* 4-bit packing dtype (FP32 = default uint8) */
	double gpu_memory_gib;    /* GPU the run is on, 0: unknown */
	char gpu_name[48];        /* normalized GPU id, "" unknown */
	/* Package versions, VF_VERSION(); 0: not stated, and the profile's
	 * documented behaviour applies. */
	uint32_t versions[VF_PKG_COUNT];
} vf_run;

/* A run with every field unset (the schema's nulls). */
void vf_run_init(vf_run *run);

const char *vf_method_name(vf_method v);
const char *vf_precision_name(vf_precision v);
const char *vf_quant_name(vf_quant v);
const char *vf_optimizer_name(vf_optimizer v);
const char *vf_ckpt_name(vf_ckpt v);
const char *vf_attention_name(vf_attention v);
const char *vf_loss_name(vf_loss v);
const char *vf_objective_name(vf_objective v);
const char *vf_strategy_name(vf_strategy v);
const char *vf_offload_name(vf_offload v);
const char *vf_framework_name(vf_framework v);
const char *vf_phases_name(vf_phases v);

/* Parse the schema's lowercase names (and documented aliases). */
bool vf_method_from_name(const char *s, vf_method *out);
bool vf_precision_from_name(const char *s, vf_precision *out);
bool vf_quant_from_name(const char *s, vf_quant *out);
bool vf_optimizer_from_name(const char *s, vf_optimizer *out);
bool vf_attention_from_name(const char *s, vf_attention *out);
bool vf_loss_from_name(const char *s, vf_loss *out);
bool vf_objective_from_name(const char *s, vf_objective *out);
bool vf_strategy_from_name(const char *s, vf_strategy *out);
bool vf_offload_from_name(const char *s, vf_offload *out);
bool vf_framework_from_name(const char *s, vf_framework *out);
bool vf_phases_from_name(const char *s, vf_phases *out);
const char *vf_package_name(vf_package v);
bool vf_package_from_name(const char *s, vf_package *out);
/* The first dotted number of a version string: "4.38.2", "v0.22",
 * ">=0.43.3", "2.5.0+cu121", "0.41.1.post2". False for anything else (a
 * commit hash, a part above 999). */
bool vf_version_parse(const char *s, uint32_t *out);
/* "4.38.2"; returns chars needed, like snprintf. */
size_t vf_version_format(uint32_t v, char *buf, size_t size);
/* "transformers=4.38.2,bitsandbytes=0.41.1" into run->versions. */
vf_status vf_versions_parse(const char *list, uint32_t versions[VF_PKG_COUNT],
			    vf_error *err);
/* "q,v", "all-linear", "q,k,v,o,gate,up,down,lm_head" ... */
vf_status vf_targets_parse(const char *list, vf_targets *out, vf_error *err);
/* Writes the canonical comma-separated form; returns chars needed. */
size_t vf_targets_format(vf_targets t, char *buf, size_t size);

/*
 * Fill every unset field from the framework profile and the model, and
 * check the result (rank larger than a layer, zero sequence, absurd sizes).
 * `out` may alias `in`.
 */
vf_status vf_run_resolve(const vf_run *in, const vf_model *model, vf_run *out,
			 vf_error *err);

/* Read / write the `run` object as JSON text (docs/run-schema.md). */
vf_status vf_run_from_json(vf_run *run, char *model_name, size_t model_size,
			   const char *json, size_t len, vf_error *err);
/* Returns a malloc'd JSON text of the run object; free with free(). */
char *vf_run_to_json(const vf_run *run, const char *model_name);

/* ------------------------------------------------------------------------
 * Memory estimate
 * ---------------------------------------------------------------------- */

typedef enum vf_component {
	VF_COMP_WEIGHTS,          /* base weights incl. quantization constants */
	VF_COMP_ADAPTERS,         /* LoRA/DoRA parameters */
	VF_COMP_MASTER_WEIGHTS,   /* fp32 master copy / 16-bit compute copies */
	VF_COMP_GRADIENTS,
	VF_COMP_OPTIMIZER,        /* optimizer states */
	VF_COMP_REFERENCE,        /* reference model (DPO/KTO) */
	VF_COMP_ACTIVATIONS,      /* tensors saved for backward */
	VF_COMP_LOGITS,           /* logits and loss tensors */
	VF_COMP_TRANSIENT,        /* temporaries of the peak phase */
	VF_COMP_COMM,             /* DDP/ZeRO/FSDP buckets and gathers */
	VF_COMP_WORKSPACE,        /* cuBLAS workspaces */
	VF_COMP_ALLOCATOR,        /* caching-allocator reserve */
	VF_COMP_CUDA_CONTEXT,
	VF_COMP_NON_TORCH,        /* NCCL, paged optimizer memory */
	VF_COMP_COUNT
} vf_component;

typedef enum vf_phase {
	VF_PHASE_LOAD, VF_PHASE_FORWARD, VF_PHASE_BACKWARD, VF_PHASE_OPTIMIZER,
	VF_PHASE_EVAL,
	VF_PHASE_COUNT
} vf_phase;

const char *vf_component_name(vf_component c);
const char *vf_phase_name(vf_phase p);

#define VF_MAX_TERMS 48

/* One line of the breakdown, with the formula that produced it. */
typedef struct vf_term {
	vf_component component;
	const char *label;        /* static string */
	const char *formula;      /* static string, symbols of vf_estimate */
	uint64_t bytes;
} vf_term;

typedef struct vf_estimate {
	vf_run run;               /* the resolved run that was estimated */
	uint64_t params_total;
	uint64_t params_trainable;
	/* Live bytes per component at the peak phase. */
	uint64_t component[VF_COMP_COUNT];
	/* Peak allocated bytes inside each phase. */
	uint64_t phase_allocated[VF_PHASE_COUNT];
	vf_phase peak_phase;
	uint64_t peak_allocated;  /* torch.cuda.max_memory_allocated */
	uint64_t peak_reserved;   /* torch.cuda.max_memory_reserved */
	uint64_t peak_process;    /* nvidia-smi, this process */
	uint64_t host_bytes;      /* host RAM for CPU offload, all GPUs */
	uint64_t tokens;          /* T = micro_batch * seq_len */
	vf_term terms[VF_MAX_TERMS];
	unsigned n_terms;
} vf_estimate;

/* Estimate the per-GPU memory of `run` (resolved first) on `model`. */
vf_status vf_estimate_run(const vf_model *model, const vf_run *run,
			  vf_estimate *out, vf_error *err);

/*
 * The estimate as JSON (docs/json-schema.md "estimate"): model.parameters,
 * peak.{allocated,reserved,process}_bytes, peak.phase, components_bytes,
 * terms[]. Returns malloc'd text; free with free(). NULL: out of memory.
 */
char *vf_estimate_to_json(const vf_model *model, const vf_estimate *est);

/* An estimate against a memory budget per GPU. */
typedef struct vf_verdict {
	uint64_t capacity_bytes;      /* the GPU memory given (--vram) */
	uint64_t safety_margin_bytes; /* kept free of it */
	uint64_t budget_bytes;        /* capacity - margin */
	int64_t headroom_bytes;       /* budget - peak process; < 0: short */
	bool fits;                    /* peak process <= budget */
} vf_verdict;

/* The verdict of `est` on `capacity` bytes keeping `margin` free.
 * VF_EINVAL when the margin leaves nothing. */
vf_status vf_verdict_compute(const vf_estimate *est, uint64_t capacity,
			     uint64_t margin, vf_verdict *out, vf_error *err);

/* vf_estimate_to_json plus a "verdict" object (NULL: none). */
char *vf_estimate_to_json_verdict(const vf_model *model,
				  const vf_estimate *est,
				  const vf_verdict *verdict);

/* ------------------------------------------------------------------------
 * Validation against measured runs (calibration schema v1)
 * ---------------------------------------------------------------------- */

typedef struct vf_validation_row {
	char id[128];
	char model[128];
	char framework[24];
	char method[24];
	char metric[24];          /* measured.metric */
	char trust[8];
	bool scored;              /* a strict accuracy point */
	bool oom;                 /* measured OOM: a lower bound */
	bool unsafe;              /* pred + margin < measured, or OOM "fits" */
	char reason[192];         /* why not scored / how compared */
	uint64_t measured_bytes;
	uint64_t predicted_bytes; /* for `metric` */
	uint64_t allocated_bytes, reserved_bytes, process_bytes;
	double error_pct;         /* (pred - measured) / measured * 100 */
} vf_validation_row;

typedef struct vf_validation {
	vf_validation_row *rows;  /* owned; vf_validation_free */
	size_t n, cap;
} vf_validation;

typedef struct vf_accuracy {
	size_t scored;
	double median_abs_pct, p90_abs_pct, max_abs_pct, bias_pct;
	size_t unsafe;            /* scored or OOM rows that are unsafe */
	size_t oom_checked;
} vf_accuracy;

/* Read a JSONL file of the schema and predict each row (appends). */
vf_status vf_validation_load(vf_validation *v, const char *path,
			     uint64_t margin_bytes, vf_error *err);
void vf_validation_free(vf_validation *v);
/* Summary over rows whose framework/method match (NULL: any). */
void vf_validation_summary(const vf_validation *v, const char *framework,
			   const char *method, vf_accuracy *out);

/* ------------------------------------------------------------------------
 * Units
 * ---------------------------------------------------------------------- */

/*
 * Parse a memory size as people write it: "24" and "20.5" are GB as GPU
 * makers say it (GiB, the unit nvidia-smi rounds to: "24 GB" card = 24 GiB
 * nominal), "16gb"/"16GB"/"16GiB" GiB, "16376MiB"/"16376mb" MiB,
 * "512KiB" KiB, "1000000000b" bytes. Fails on negatives, zero, junk, NaN.
 */
vf_status vf_parse_size(const char *text, uint64_t *bytes, vf_error *err);
/* "15.99 GiB", "512 MiB" ... into buf; returns buf. */
char *vf_format_bytes(uint64_t bytes, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * GPUs detected through NVML
 *
 * NVML (libnvidia-ml.so.1, part of the NVIDIA driver) is loaded with
 * dlopen() at run time: nothing here needs a GPU, a driver or the CUDA
 * toolkit to build. VRAMFIT_NVML_LIBRARY=/path/to/lib.so overrides the
 * library. Without a usable driver the calls fail with VF_ENODEV and a
 * one-line reason; the rest of the library works as before.
 * See docs/gpus.md.
 * ---------------------------------------------------------------------- */

#define VF_GPU_MAX 64         /* GPUs kept in a vf_gpu_list */
#define VF_GPU_MAX_PROCS 64   /* processes kept per GPU */

/* A process that holds memory on a GPU. */
typedef struct vf_gpu_process {
	int32_t pid;              /* as NVML reports it (host PID namespace) */
	char name[64];            /* /proc/PID/comm, else cmdline; "" unknown */
	bool used_known;          /* false: NVML cannot tell (no permission...) */
	uint64_t used_bytes;      /* valid when used_known */
	bool graphics;            /* from the graphics list, not compute */
} vf_gpu_process;

/* Optional fields of vf_gpu_info: bit (1u << field) of `valid` is set when
 * the driver answered. Unknown is never 0. */
typedef enum vf_gpu_field {
	VF_GPU_UUID,
	VF_GPU_PCI_BUS_ID,
	VF_GPU_MEMORY_RESERVED,   /* only the memory v2 call reports it */
	VF_GPU_COMPUTE_CAP,       /* cc_major, cc_minor, bf16 */
	VF_GPU_TEMPERATURE,
	VF_GPU_POWER,
	VF_GPU_POWER_LIMIT,
	VF_GPU_UTILIZATION,
	VF_GPU_THROTTLE,
	VF_GPU_PCIE,              /* pcie_gen, pcie_width */
	VF_GPU_PROCESSES,         /* procs[] is a complete list */
	VF_GPU_FIELD_COUNT
} vf_gpu_field;

#define VF_GPU_HAS(gpu, field) ((((gpu)->valid) >> (field)) & 1u)

/* Clock-throttle (NVML "clocks event") reasons, NVML's own bit values. */
#define VF_THROTTLE_GPU_IDLE          0x1ull
#define VF_THROTTLE_APP_CLOCKS        0x2ull
#define VF_THROTTLE_SW_POWER_CAP      0x4ull
#define VF_THROTTLE_HW_SLOWDOWN       0x8ull
#define VF_THROTTLE_SYNC_BOOST        0x10ull
#define VF_THROTTLE_SW_THERMAL        0x20ull
#define VF_THROTTLE_HW_THERMAL        0x40ull
#define VF_THROTTLE_HW_POWER_BRAKE    0x80ull
#define VF_THROTTLE_DISPLAY_CLOCKS    0x100ull
#define VF_THROTTLE_THERMAL (VF_THROTTLE_SW_THERMAL | VF_THROTTLE_HW_THERMAL)
#define VF_THROTTLE_POWER                                                     \
	(VF_THROTTLE_SW_POWER_CAP | VF_THROTTLE_HW_POWER_BRAKE)

/*
 * Writes the names of the set bits, comma-separated ("sw_thermal,hw_slowdown",
 * "none" for 0) into buf; returns the characters needed, like snprintf.
 */
size_t vf_throttle_format(uint64_t reasons, char *buf, size_t size);

/* One GPU. A plain value. */
typedef struct vf_gpu_info {
	unsigned index;           /* the CUDA ordinal a program will see */
	unsigned nvml_index;      /* nvidia-smi's index (PCI bus order) */
	char name[96];            /* "NVIDIA GeForce RTX 4090" */
	char uuid[96];            /* "GPU-xxxxxxxx-..." */
	char pci_bus_id[32];      /* "00000000:01:00.0" */
	uint64_t memory_total_bytes; /* nvidia-smi memory.total */
	uint64_t memory_used_bytes;  /* memory.used (excludes reserved, v2) */
	uint64_t memory_free_bytes;  /* memory.free */
	uint64_t memory_reserved_bytes; /* driver/firmware reserve (v2 only) */
	int cc_major, cc_minor;   /* compute capability */
	bool bf16;                /* native bf16: compute capability >= 8.0 */
	unsigned temperature_c;
	unsigned power_mw;        /* current draw */
	unsigned power_limit_mw;  /* enforced limit */
	unsigned util_gpu_pct;    /* kernels running, last sample period */
	unsigned util_memory_pct; /* memory controller busy */
	uint64_t throttle;        /* VF_THROTTLE_* bits */
	unsigned pcie_gen, pcie_width; /* current link */
	vf_gpu_process procs[VF_GPU_MAX_PROCS]; /* largest users first */
	unsigned n_procs;
	unsigned procs_dropped;   /* processes beyond VF_GPU_MAX_PROCS */
	uint32_t valid;           /* (1u << vf_gpu_field) bits */
} vf_gpu_info;

/* The GPUs a CUDA program started now would see, in its numbering. */
typedef struct vf_gpu_list {
	char driver_version[80];
	unsigned nvml_count;      /* devices NVML sees, before filtering */
	bool filtered;            /* CUDA_VISIBLE_DEVICES was set */
	/* false when CUDA's default FASTEST_FIRST order may differ from the
	 * PCI bus order used here (GPUs of different models, no
	 * CUDA_DEVICE_ORDER=PCI_BUS_ID); see docs/gpus.md */
	bool order_exact;
	vf_gpu_info gpus[VF_GPU_MAX];
	unsigned n_gpus;
} vf_gpu_list;

/* An open NVML session (library loaded, nvmlInit done). */
typedef struct vf_nvml vf_nvml;

/*
 * Loads NVML and initializes it. VF_ENODEV with the reason (library not
 * found, a required function missing, driver not loaded); VF_ENOMEM.
 * Close with vf_nvml_close().
 */
vf_status vf_nvml_open(vf_nvml **out, vf_error *err);
void vf_nvml_close(vf_nvml *nvml);
/* The path or name the library was loaded from. Borrowed. */
const char *vf_nvml_library(const vf_nvml *nvml);

/*
 * Reads every visible GPU, honouring CUDA_VISIBLE_DEVICES and
 * CUDA_DEVICE_ORDER from the environment. Zero GPUs is not an error here
 * (n_gpus == 0). Fails with VF_ENODEV when a required query fails.
 * Cheap enough to call once a second.
 */
vf_status vf_gpus_read(vf_nvml *nvml, vf_gpu_list *out, vf_error *err);

/* vf_nvml_open + vf_gpus_read + vf_nvml_close. */
vf_status vf_gpus_detect(vf_gpu_list *out, vf_error *err);

/*
 * Applies a CUDA_VISIBLE_DEVICES value (NULL: unset) to `list` in place:
 * keeps the listed GPUs in the listed order and renumbers them. Entries are
 * ordinals or GPU-UUID prefixes; as CUDA does, the list ends at the first
 * entry that is invalid, unknown or repeated. vf_gpus_read does this.
 */
void vf_gpus_filter(vf_gpu_list *list, const char *cuda_visible_devices);

/* Bytes of GPU `gpu` held by `pids` (a process tree); 0 when none. */
uint64_t vf_gpu_used_by(const vf_gpu_info *gpu, const int32_t *pids,
			size_t n_pids);

/*
 * The descendants of `root` (walking /proc), `root` first. Returns how many
 * were found, which may be more than `max` (only `max` are stored).
 */
size_t vf_process_tree(int32_t root, int32_t *pids, size_t max);

/* ---- --vram auto: the memory a training process may use per GPU ---- */

typedef struct vf_gpu_budget_entry {
	unsigned index;           /* CUDA ordinal */
	uint64_t total_bytes;     /* driver-reported total */
	uint64_t reserved_bytes;  /* driver reserve (0 when not reported) */
	uint64_t others_bytes;    /* held now by other processes */
	/* part of others_bytes NVML attributes to no listed process (other
	 * containers, unreadable process lists) */
	uint64_t unattributed_bytes;
	uint64_t margin_bytes;
	/* total - reserved - others - margin, floored at 0 */
	uint64_t budget_bytes;
} vf_gpu_budget_entry;

typedef struct vf_gpu_budget {
	vf_gpu_budget_entry gpu[VF_GPU_MAX];
	unsigned n_gpus;
	/* what binds data-parallel replicas: the smallest budget */
	uint64_t min_budget_bytes;
	unsigned min_index;       /* the GPU that has it */
	bool mixed;               /* the GPUs differ in total memory */
} vf_gpu_budget;

/*
 * Per-GPU budgets (never a sum over GPUs) from a detected list.
 * `margin_bytes` is kept free on each GPU. VF_ENODEV when the list is
 * empty.
 */
vf_status vf_gpu_budget_compute(const vf_gpu_list *list, uint64_t margin_bytes,
				vf_gpu_budget *out, vf_error *err);

/*
 * The list as a JSON text (schema in docs/gpus.md; "schema_version": 1).
 * Returns malloc'd text, free with free(); NULL when out of memory.
 */
char *vf_gpu_list_to_json(const vf_gpu_list *list);

/* ---- end of GPUs detected through NVML ---- */

/* ------------------------------------------------------------------------
 * The GPU table (data/gpus/gpus.csv, with a source for every figure)
 *
 * Used for --gpu NAME budgets and by the speed model. Figures the table
 * has no source for are 0.
 * ---------------------------------------------------------------------- */

typedef struct vf_gpu_spec {
	char id[32];              /* "rtx-4050-laptop", "h100-sxm" */
	char name[64];            /* "NVIDIA GeForce RTX 4050 Laptop GPU" */
	unsigned cc_major, cc_minor;   /* compute capability */
	uint64_t memory_bytes;    /* as nvidia-smi reports it (MiB * 2^20) */
	double bandwidth_gbs;     /* peak DRAM bandwidth, GB/s */
	double bf16_tflops;       /* dense tensor bf16, fp32 accumulate */
	double fp32_tflops;       /* CUDA-core fp32 */
	unsigned pcie_gen;        /* 0: not sourced */
	bool nvlink;
	bool bf16;                /* bf16 supported (CC >= 8.0) */
	bool laptop;
} vf_gpu_spec;

size_t vf_gpu_spec_count(void);
/* The i-th row; VF_EINVAL past the end. */
vf_status vf_gpu_spec_at(size_t index, vf_gpu_spec *out, vf_error *err);
/*
 * Looks a GPU up by id or name as people and drivers write it: case,
 * spaces, dashes and the words "NVIDIA" and "GeForce" do not matter
 * ("rtx4050-laptop", "RTX 4090", "NVIDIA H100 80GB HBM3"). An exact match
 * wins; otherwise a unique prefix. VF_ENOTFOUND (or an ambiguous prefix:
 * VF_EINVAL) with the candidates in the message.
 */
vf_status vf_gpu_spec_find(const char *name, vf_gpu_spec *out, vf_error *err);

/* ------------------------------------------------------------------------
 * Speed (docs/speed.md): estimates, labelled as such
 * ---------------------------------------------------------------------- */

typedef struct vf_speed {
	double flops_per_token;   /* model FLOPs of one trained token */
	double compute_seconds;   /* per optimizer step, one GPU */
	double dequant_seconds;   /* 4-bit weights expanded per matmul */
	double optimizer_seconds; /* the memory-bound optimizer step */
	double offload_seconds;   /* PCIe traffic and host optimizer */
	double comm_seconds;      /* gradient all-reduce / reduce-scatter */
	double step_seconds;
	double mfu;               /* assumed fraction of the GPU's peak */
	double tokens_per_second; /* all GPUs together */
	double samples_per_second;
	double steps_per_second;
	bool peak_known;          /* false: the GPU's TFLOP/s are not in the
				   * table; figures use 100 TFLOP/s and only
				   * compare configurations */
} vf_speed;

/* The speed of one optimizer step of an estimated run (its resolved run
 * and trainable parameters) on `gpu` (NULL: unknown). */
vf_status vf_speed_estimate(const vf_model *model, const vf_estimate *est,
			    const vf_gpu_spec *gpu, vf_speed *out,
			    vf_error *err);

/* ------------------------------------------------------------------------
 * Planning: the fastest configuration that fits (docs/plan.md)
 * ---------------------------------------------------------------------- */

typedef enum vf_prefer {
	VF_PREFER_SPEED,          /* most tokens per second */
	VF_PREFER_CONTEXT,        /* longest sequence, then speed */
	VF_PREFER_QUALITY,        /* least quantization, full > LoRA, higher
				   * rank, then speed */
	VF_PREFER_COUNT
} vf_prefer;

const char *vf_prefer_name(vf_prefer p);
bool vf_prefer_from_name(const char *s, vf_prefer *out);

typedef struct vf_plan_request {
	/* The starting point: knobs it sets stay fixed, unset ones are
	 * searched (method, precision, optimizer, checkpointing, micro-batch
	 * and accumulation, LoRA rank for quality, ZeRO stage and offload on
	 * several GPUs). A quantization other than none is kept; none is
	 * searched unless no_quant. */
	vf_run base;
	uint32_t effective_batch; /* samples per optimizer step, all GPUs */
	uint32_t max_seq;         /* wanted sequence length */
	uint32_t min_seq;         /* shortest acceptable */
	uint64_t budget_bytes;    /* per GPU, after the safety margin */
	uint64_t host_ram_bytes;  /* for CPU offload; 0: offload not searched */
	vf_prefer prefer;
	bool no_quant;
	const vf_gpu_spec *gpu;   /* for the speed model; NULL: nominal */
} vf_plan_request;

typedef struct vf_plan_option {
	vf_estimate est;          /* est.run is the configuration */
	vf_speed speed;
	bool fits;
	int64_t headroom_bytes;   /* budget - peak process */
	char reason[128];         /* why an alternative lost */
} vf_plan_option;

#define VF_PLAN_ALTERNATIVES 4

typedef struct vf_plan {
	bool found;               /* a configuration fits */
	vf_plan_option chosen;    /* !found: the closest one, not fitting */
	vf_plan_option alternatives[VF_PLAN_ALTERNATIVES];
	unsigned n_alternatives;
	uint64_t evaluated;       /* configurations estimated */
	uint64_t pruned;          /* cut because a smaller one did not fit */
	uint32_t effective_batch; /* what the chosen one achieves */
	char note[192];           /* e.g. effective batch not divisible */
} vf_plan;

/* Searches exhaustively, cutting larger micro-batches once one does not
 * fit (memory is monotone in the micro-batch). `out` is ~11 KiB;
 * it holds no pointers and needs no freeing. */
vf_status vf_plan_search(const vf_model *model, const vf_plan_request *req,
			 vf_plan *out, vf_error *err);

/* ------------------------------------------------------------------------
 * Model sources
 *
 * A model is named the way people load it: a built-in name, a path to a
 * config.json, a model folder (config.json plus *.safetensors, sharded or
 * not), or a Hub id "org/name[@revision]" found in the local Hugging Face
 * cache or fetched from the Hub. Weights are never downloaded: from a
 * safetensors file only its JSON header is read (over HTTP, two Range
 * requests). See docs/models.md for the order and the environment.
 * ---------------------------------------------------------------------- */

typedef enum vf_source_kind {
	VF_SOURCE_BUILTIN,        /* data/models, embedded */
	VF_SOURCE_CONFIG_FILE,    /* a config.json path */
	VF_SOURCE_FOLDER,         /* a model folder */
	VF_SOURCE_HF_CACHE,       /* the Hugging Face cache (HF_HUB_CACHE...) */
	VF_SOURCE_CACHE,          /* vramfit's own cache of earlier fetches */
	VF_SOURCE_HUB,            /* fetched over HTTP just now */
	VF_SOURCE_KIND_COUNT
} vf_source_kind;

const char *vf_source_kind_name(vf_source_kind kind);

/* A checkpoint whose weights are stored already quantized. */
typedef enum vf_prequant {
	VF_PREQUANT_NONE,
	VF_PREQUANT_BNB_4BIT,     /* bitsandbytes nf4/fp4 (absmax, quant_state) */
	VF_PREQUANT_BNB_8BIT,     /* bitsandbytes LLM.int8 (SCB) */
	VF_PREQUANT_GPTQ,         /* qweight + g_idx */
	VF_PREQUANT_AWQ,          /* qweight without g_idx */
	VF_PREQUANT_FP8,          /* F8_E4M3 / F8_E5M2 weights */
	VF_PREQUANT_OTHER,        /* a quantization_config we do not know */
	VF_PREQUANT_COUNT
} vf_prequant;

const char *vf_prequant_name(vf_prequant q);

typedef struct vf_source_opts {
	bool offline;             /* caches only; HF_HUB_OFFLINE=1 also sets it */
	const char *endpoint;     /* NULL: $HF_ENDPOINT, else huggingface.co */
	/* NULL: $HF_TOKEN, else the token file (docs/models.md). Sent only as
	 * an Authorization header, never printed or put in a vf_error. */
	const char *token;
	long timeout_s;           /* per request; 0: $VRAMFIT_HTTP_TIMEOUT,
				   * else 30 */
	/* extra tries on 5xx/network; 0: $VRAMFIT_HTTP_RETRIES, else 3 */
	unsigned retries;
	/* NULL: the Hugging Face hub cache of the environment (HF_HUB_CACHE,
	 * HF_HOME/hub, ~/.cache/huggingface/hub) and vramfit's header cache
	 * ($XDG_CACHE_HOME/vramfit, ~/.cache/vramfit). */
	const char *hf_cache;
	const char *cache_dir;
	/* Called with a short line ("fetching org/name: config.json") while a
	 * fetch has taken more than a second, then with NULL when it ends. */
	void (*progress)(const char *line, void *payload);
	void *payload;
} vf_source_opts;

/* Defaults: online, endpoint and token from the environment. */
void vf_source_opts_init(vf_source_opts *opts);

#define VF_SOURCE_MAX_DTYPES 16
#define VF_SOURCE_MAX_WARNINGS 4

/* Tensors stored with one safetensors dtype ("BF16", "U8", "F8_E4M3"). */
typedef struct vf_dtype_count {
	char dtype[12];
	uint64_t tensors;
	uint64_t elements;
	uint64_t bytes;
} vf_dtype_count;

/* Where a model came from and what its files say. A plain value. */
typedef struct vf_source_info {
	vf_source_kind kind;
	char location[1024];      /* file, folder or URL of the config */
	char revision[64];        /* commit of a Hub or cache snapshot, or "" */
	unsigned n_shards;        /* safetensors headers read (0: none) */
	uint64_t header_tensors;
	uint64_t header_elements; /* stored elements (packed for 4-bit) */
	uint64_t header_bytes;    /* bytes of tensor data */
	vf_dtype_count dtypes[VF_SOURCE_MAX_DTYPES]; /* most bytes first */
	unsigned n_dtypes;
	uint64_t config_params;   /* what config.json implies */
	/* The headers disagreed with the config and model.params.total was
	 * taken from them (sizes trust the headers). */
	bool params_from_headers;
	bool arch_from_headers;   /* unknown model_type: shapes from headers */
	vf_prequant prequant;
	char warnings[VF_SOURCE_MAX_WARNINGS][256];
	unsigned n_warnings;
} vf_source_info;

/*
 * Resolves `spec` into a model, in this order: an existing path (a
 * config.json file, or a model folder with its safetensors headers); a
 * built-in name (without @revision); a Hub id org/name[@revision] whose
 * config.json is in the Hugging Face cache (headers from the snapshot, else
 * vramfit's header cache, else fetched); else, unless offline, the Hub,
 * caching what it fetched. `opts` and `info` may be NULL; `info` says where
 * the model came from and what the headers hold, and its warnings are the
 * notes to show (headers against config, a pre-quantized checkpoint).
 * Fails with VF_ENOTFOUND (unknown name, repo, revision or file; not cached
 * while offline), VF_EAUTH (gated or private repo; the message says how to
 * give a token), VF_ENET (network down, timeout, server error after
 * retries), VF_EPARSE / VF_EINVAL (a malformed config, header or Hub id),
 * VF_EUNSUPPORTED (model_type unknown and no headers to fall back on).
 * Never downloads weights; the token never appears in `err` or `info`.
 */
vf_status vf_model_resolve(const char *spec, const vf_source_opts *opts,
			   vf_model *out, vf_source_info *info, vf_error *err);

/* ---- end of model sources ---- */

/* ------------------------------------------------------------------------
 * Reading training configs (docs/check.md)
 * ---------------------------------------------------------------------- */

typedef enum vf_config_format {
	VF_CONFIG_AUTO,       /* detect from the keys */
	VF_CONFIG_HF,         /* TrainingArguments / TRL SFT/DPO/KTOConfig */
	VF_CONFIG_AXOLOTL,
	VF_CONFIG_DEEPSPEED,
	VF_CONFIG_FORMAT_COUNT
} vf_config_format;

const char *vf_config_format_name(vf_config_format f);
bool vf_config_format_from_name(const char *s, vf_config_format *out);

#define VF_CONFIG_MAX_WARNINGS 32
#define VF_CONFIG_WARNING_MAX 192

/* What a training config file said: a plain value. */
typedef struct vf_train_config {
	vf_config_format format;  /* the format read (never AUTO) */
	vf_run run;               /* knobs the file stated; the rest unset */
	char model[256];          /* model_name_or_path / base_model, "" none */
	unsigned n_warnings;      /* at most VF_CONFIG_MAX_WARNINGS kept */
	unsigned n_warnings_total;
	char warnings[VF_CONFIG_MAX_WARNINGS][VF_CONFIG_WARNING_MAX];
} vf_train_config;

/*
 * Parse a YAML or JSON training config. `name` is used in messages
 * ("name:line:col: ..."). Unknown keys become warnings; a malformed file
 * or a value of the wrong type is VF_EPARSE / VF_EINVAL with the line.
 */
vf_status vf_train_config_parse(vf_train_config *cfg, const char *name,
				const char *text, size_t len,
				vf_config_format format, vf_error *err);
vf_status vf_train_config_load(vf_train_config *cfg, const char *path,
			       vf_config_format format, vf_error *err);

/* ---- end of reading training configs ---- */

/* ------------------------------------------------------------------------
 * Checking a configuration: the memory levers and the smallest change
 * that fits (docs/check.md)
 * ---------------------------------------------------------------------- */

/* The levers, in the order they cost the least: the first tier keeps the
 * same training (same math), the second changes numerics, the third what
 * is trained. */
typedef enum vf_lever {
	VF_LEVER_MICRO_BATCH,     /* halve it, double the accumulation */
	VF_LEVER_GRAD_CKPT,       /* checkpoint every layer */
	VF_LEVER_OPTIMIZER,       /* paged 8-bit AdamW */
	VF_LEVER_BF16,            /* bf16 autocast instead of fp32 */
	VF_LEVER_QUANT,           /* a 4-bit NF4 base with double quant */
	VF_LEVER_SEQ,             /* halve the sequence length */
	VF_LEVER_RANK,            /* halve the LoRA rank */
	VF_LEVER_COUNT
} vf_lever;

typedef enum vf_lever_tier {
	VF_TIER_SAME_TRAINING, VF_TIER_NUMERICS, VF_TIER_WHAT_IS_TRAINED
} vf_lever_tier;

const char *vf_lever_name(vf_lever l);   /* "gradient checkpointing" */
vf_lever_tier vf_lever_tier_of(vf_lever l);

typedef struct vf_lever_state {
	bool applicable;          /* false: e.g. rank without adapters */
	bool at_limit;            /* already at its memory-saving setting */
	char current[48];         /* "off", "adamw", "4 x 4", "r=16" */
	char next[48];            /* the one step: "every layer" */
	int64_t saves_bytes;      /* peak process bytes that step alone
				   * saves (0: not applicable or at limit) */
	double speed_ratio;       /* tokens/s after the step / before */
} vf_lever_state;

typedef struct vf_check {
	vf_estimate est;          /* the configuration as it is */
	vf_speed speed;
	uint64_t budget_bytes;    /* 0: no budget given */
	bool fits;                /* true when no budget was given */
	vf_lever_state levers[VF_LEVER_COUNT];
	/* When it does not fit: the change that does, from the cheapest
	 * tier that has one, the fastest within it. */
	bool have_fix;
	vf_lever_tier fix_tier;
	uint32_t fix_levers;      /* bit set of (1u << vf_lever) changed */
	vf_estimate fix_est;      /* fix_est.run is the changed run */
	vf_speed fix_speed;
	uint64_t evaluated;       /* configurations estimated */
} vf_check;

/* Estimates `run` against `budget_bytes` (per GPU, after the margin; 0:
 * none), lists the levers and, when it does not fit, searches the
 * combinations of lever steps for the least costly one that fits. `gpu`
 * (may be NULL) is for the speed model. `out` is ~5 KiB and
 * needs no freeing. */
vf_status vf_check_run(const vf_model *model, const vf_run *run,
		       uint64_t budget_bytes, const vf_gpu_spec *gpu,
		       vf_check *out, vf_error *err);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* VRAMFIT_H */
