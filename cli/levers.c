/*
 * levers.c - a change of memory levers (vf_check) as people apply it: the
 * keys of their config file, or vramfit's own flags.
 */
#include "cli.h"

/* The keys a change is written in, per format. */
static const struct {
	const char *micro_batch, *seq, *rank, *optim, *ckpt_note;
} keys[VF_CONFIG_FORMAT_COUNT] = {
	[VF_CONFIG_HF] = {"per_device_train_batch_size", "max_length", "r",
			  "optim", ""},
	[VF_CONFIG_AXOLOTL] = {"micro_batch_size", "sequence_len", "lora_r",
			       "optimizer", ""},
	[VF_CONFIG_DEEPSPEED] = {"train_micro_batch_size_per_gpu",
				 "max_length", "r", "optim",
				 "   # in the training arguments"},
};

void cli_print_lever_change(vf_lever l, vf_config_format f, const vf_run *r,
			    const char *indent)
{
	const char *note = keys[f].ckpt_note;
	switch (l) {
	case VF_LEVER_MICRO_BATCH:
		printf("%s%s: %u\n%sgradient_accumulation_steps: %u\n", indent,
		       keys[f].micro_batch, r->micro_batch, indent, r->grad_accum);
		break;
	case VF_LEVER_GRAD_CKPT:
		printf("%sgradient_checkpointing: true%s\n", indent, note);
		break;
	case VF_LEVER_OPTIMIZER:
		printf("%s%s: %s%s\n", indent, keys[f].optim,
		       cli_hf_optim_name(r->optimizer), note);
		break;
	case VF_LEVER_BF16:
		if (f == VF_CONFIG_DEEPSPEED)
			printf("%s\"bf16\": {\"enabled\": true}\n", indent);
		else
			printf("%sbf16: true\n", indent);
		break;
	case VF_LEVER_QUANT:
		if (f == VF_CONFIG_AXOLOTL)
			printf("%sadapter: qlora\n%sload_in_4bit: true\n", indent,
			       indent);
		else
			printf("%sload_in_4bit: true%s\n%sbnb_4bit_quant_type: nf4\n"
			       "%sbnb_4bit_use_double_quant: true\n", indent,
			       note, indent, indent);
		break;
	case VF_LEVER_SEQ:
		printf("%s%s: %u%s\n", indent, keys[f].seq, r->seq_len, note);
		break;
	case VF_LEVER_RANK:
		printf("%s%s: %u%s\n", indent, keys[f].rank, r->lora.r, note);
		break;
	default:
		break;
	}
}

/* The flags of `vramfit estimate` that make the change. */
void cli_print_lever_flags(uint32_t levers, const vf_run *r)
{
	for (int l = 0; l < VF_LEVER_COUNT; l++) {
		if (!(levers & (1u << l)))
			continue;
		switch ((vf_lever)l) {
		case VF_LEVER_MICRO_BATCH:
			printf(" --batch %u --grad-accum %u", r->micro_batch,
			       r->grad_accum);
			break;
		case VF_LEVER_GRAD_CKPT: printf(" --grad-ckpt"); break;
		case VF_LEVER_OPTIMIZER:
			printf(" --optim %s", vf_optimizer_name(r->optimizer));
			break;
		case VF_LEVER_BF16:
			printf(" --precision %s", vf_precision_name(r->precision));
			break;
		case VF_LEVER_QUANT:
			printf(" --method qlora --quant %s", vf_quant_name(r->quant));
			break;
		case VF_LEVER_SEQ: printf(" --seq %u", r->seq_len); break;
		case VF_LEVER_RANK: printf(" --lora-r %u", r->lora.r); break;
		default: break;
		}
	}
}
