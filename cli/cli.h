/*
 * cli.h - what the commands of the vramfit tool share. The CLI uses only
 * the public header vramfit.h.
 */
#ifndef VF_CLI_H
#define VF_CLI_H

#include "vramfit.h"

#include <stdbool.h>
#include <stdio.h>

#define VF_CLI_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses, as documented in vramfit(1). */
enum {
	EXIT_OK = 0,
	EXIT_DOES_NOT_FIT = 1, /* a verdict: the run does not fit / alert */
	EXIT_USAGE = 2,        /* bad input: one line on stderr says what */
	EXIT_RUNTIME = 3,      /* a runtime failure (I/O, network, driver) */
};

typedef struct vf_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
} vf_command;

/* Prints "vramfit: <message>" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "vramfit: <err->message>"; returns the exit status for it. */
int cli_report(const vf_error *err);
int cli_exit_for(vf_status st);

/* Colour only on a terminal and never with NO_COLOR (no-color.org). */
bool cli_use_color(FILE *f);
const char *cli_color(FILE *f, const char *sgr); /* "" when off */

/* Parses an unsigned integer flag value in [min, max]. */
bool cli_parse_u32(const char *flag, const char *s, unsigned long min,
		   unsigned long max, uint32_t *out);
bool cli_parse_double(const char *flag, const char *s, double min, double max,
		      double *out);

/* "1,234,567" */
char *cli_group_digits(uint64_t v, char *buf, size_t size);

/* Loads a model by built-in name or config.json path (see --model). */
int cli_load_model(const char *spec, vf_model *model);
/* The same through vf_model_resolve, cache only when `offline`: notes
 * (headers disagree, a quantized checkpoint) go to stderr, and a progress
 * line while a fetch is slow when stderr is a terminal. */
int cli_load_model_from(const char *spec, bool offline, vf_model *model);
/* ... and where it came from into `info` (may be NULL). */
int cli_load_model_info(const char *spec, bool offline, vf_model *model,
			vf_source_info *info);

/* GPU commands (gpu_common.c): an NVML failure with the --vram hint, MiB
 * as nvidia-smi shows them, the predicted peak of an --expect file. */
int cli_gpu_error(const vf_error *err);
unsigned long long cli_mib(uint64_t bytes);
int cli_read_expect(const char *path, uint64_t *bytes);

/* The model and run flags shared by estimate, plan, sweep and check
 * (run_flags.c). */
#include <getopt.h>
typedef struct cli_run_spec {
	const char *model;        /* --model, or the run file's model */
	const char *run_file;     /* --run */
	bool custom;              /* a model given by its dimensions */
	vf_arch arch;             /* ... those dimensions */
	vf_run run;               /* knobs given (unset = default) */
	vf_model model_value;     /* filled by cli_run_finish */
	char model_buf[128];
	bool offline;             /* --offline */
	/* A run read from elsewhere (a training config) that the flags
	 * override, and its model when no --model is given; NULL: none. */
	const vf_run *base_run;
	const char *base_model;
	vf_source_info source;    /* where --model came from (filled by
				   * cli_run_finish) */
	bool have_source;         /* false: a model given by dimensions */
} cli_run_spec;

/* Their getopt values start at 1000: a command numbers its own options
 * below that. */
extern const struct option cli_run_options[];
extern const size_t cli_run_options_len;
/* A command's getopt table: the run flags, then `own` (terminated by a
 * zero entry), then the terminator, into `out` of `cap` entries. */
void cli_run_options_with(struct option *out, size_t cap,
			  const struct option *own);
extern const char cli_run_help[];
void cli_run_spec_init(cli_run_spec *spec);
/* Handles one getopt result if it is a run flag (returns true); *status
 * is EXIT_USAGE when its value was bad (the error is printed). */
bool cli_run_flag(cli_run_spec *spec, int opt, const char *arg, int *status);
/* Loads --run, applies flags over it, loads the model. */
int cli_run_finish(cli_run_spec *spec);
void vf_strlcpy_cli(char *dst, const char *src, size_t size);
/* The host memory available now (MemAvailable of /proc/meminfo, else the
 * physical memory); false when neither can be read. */
bool cli_host_ram_available(uint64_t *bytes);

/* --vram SIZE|auto minus the margin, per GPU; `note` says where an auto
 * budget came from. */
int cli_vram_budget(const char *vram, uint64_t margin, uint64_t *budget,
		    char *note, size_t note_size);

/* --vram, --gpu and --safety-margin together (estimate, plan): the
 * capacity per GPU, the budget after the margin, and the GPU's spec when
 * one is named (for the speed model and the run's gpu). */
typedef struct cli_budget {
	const char *vram;         /* --vram SIZE|auto, or NULL */
	const char *gpu;          /* --gpu NAME, or NULL */
	uint32_t margin_mib;      /* --safety-margin, default 1024 */
	uint64_t capacity;        /* 0: no budget given */
	uint64_t budget;          /* capacity - margin */
	bool have_spec;
	vf_gpu_spec spec;
	char note[256];           /* where an auto budget came from */
} cli_budget;

/* The getopt entries of --vram, --gpu and --safety-margin, all with the
 * command's value `val` (cli_budget_flag tells them apart by name). */
#define CLI_BUDGET_OPTIONS(val)                                                \
	{"vram", required_argument, 0, (val)},                                 \
	{"gpu", required_argument, 0, (val)},                                  \
	{"safety-margin", required_argument, 0, (val)}

void cli_budget_init(cli_budget *b);
/* Handles --vram/--gpu/--safety-margin; true if opt was one of them. */
bool cli_budget_flag(cli_budget *b, const char *name, const char *arg,
		     int *status);
int cli_budget_resolve(cli_budget *b);
extern const char cli_budget_help[];

/* A planned run in a tool's config format (emit.c): "hf", "deepspeed",
 * "accelerate", "axolotl", "run", "flags". malloc'd; NULL: unknown
 * format or out of memory. */
char *cli_emit(const char *format, const vf_model *m, const vf_run *r);
bool cli_emit_format_known(const char *format);
/* A lever's step (vf_check) as the keys of a config of format `f`, one
 * per line after `indent`; and a set of them as estimate flags. */
void cli_print_lever_change(vf_lever l, vf_config_format f, const vf_run *r,
			    const char *indent);
void cli_print_lever_flags(uint32_t levers, const vf_run *r);

/* TrainingArguments `optim` spelling of an optimizer; NULL: none. */
const char *cli_hf_optim_name(vf_optimizer o);
/* Writes a whole file atomically; an existing file only with force. */
int cli_write_file(const char *path, const char *content, bool force);

/* Commands (one source file each). */
int cmd_models(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_gpus(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_check(int argc, char **argv);

#endif
