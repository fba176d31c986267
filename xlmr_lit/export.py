"""`xlmr-export CKPT OUT_DIR`: one of our checkpoints -> an HF `XLMRoberta*` directory.

The head is read off the checkpoint's weights: a pretraining checkpoint (`lm_head.*`) becomes an
`XLMRobertaForMaskedLM`; fine-tuned ones become `XLMRobertaForSequenceClassification`
(`classifier.dense/out_proj`; labels from the run, `problem_type="regression"` when it has none),
`XLMRobertaForTokenClassification` (one `classifier` linear; labels = the NER tags) or
`XLMRobertaForQuestionAnswering` (`qa_outputs`). The directory (config.json, model.safetensors,
sentencepiece.bpe.model, tokenizer.json, tokenizer_config.json) loads offline with the matching
`AutoModelFor*.from_pretrained(OUT_DIR)` and `AutoTokenizer.from_pretrained(OUT_DIR)`; the export
reloads it that way and checks it agrees with our model on a padded batch.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from xlmr_lit.convert import (
    SPM_FILE,
    config_to_hf,
    load_our_checkpoint,
    load_state_dict_checked,
    ours_to_hf,
    read_torch_file,
)
from xlmr_lit.extend import HF_CONFIG_KEY
from xlmr_lit.model import (
    XLMRConfig,
    XLMRForMaskedLM,
    XLMRForQuestionAnswering,
    XLMRForSequenceClassification,
    XLMRForTokenClassification,
)
from xlmr_lit.tokenizer import XLMRTokenizer

log = logging.getLogger(__name__)

CHECK_TEXTS = ("Hello world, this is XLM-R.", "Привет, мир! 你好，世界。", "Hi.")
TOL = 1e-4

# our model class -> the transformers class it exports to (its Auto class: AutoModelFor<same suffix>)
HF_CLASS = {
    XLMRForMaskedLM: "XLMRobertaForMaskedLM",
    XLMRForSequenceClassification: "XLMRobertaForSequenceClassification",
    XLMRForTokenClassification: "XLMRobertaForTokenClassification",
    XLMRForQuestionAnswering: "XLMRobertaForQuestionAnswering",
}


def export(checkpoint: Path, out_dir: Path, tokenizer: Path | None = None, overwrite: bool = False) -> list[Path]:
    """Write the HF directory and return the files this export wrote.

    The files are written and checked in a scratch directory next to `out_dir`, then moved in: a failed
    export leaves `out_dir` as it was. A non-empty `out_dir` is refused unless `overwrite`; files in it
    that this export does not write are left alone (and not listed).
    """
    check_out_dir(out_dir, overwrite)
    if tokenizer is not None and not tokenizer.is_file():
        raise FileNotFoundError(f"--tokenizer {tokenizer} does not exist")
    config, state_dict, spm_path = load_our_checkpoint(checkpoint, tokenizer)
    model = build_model(config, state_dict, str(checkpoint))
    labels = read_labels(checkpoint)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-") as tmp:
        scratch = Path(tmp)
        hf_model = to_hf_model(model, labels)
        if extension := read_hparams(checkpoint).get("extension"):  # so that extending it again is refused
            setattr(hf_model.config, HF_CONFIG_KEY, extension)
        hf_model.save_pretrained(scratch)
        save_tokenizer(spm_path, scratch, model_max_length=config.max_position_embeddings - 2)
        check_export(scratch, model, XLMRTokenizer(spm_path))
        out_dir.mkdir(exist_ok=True)
        written = []
        for path in sorted(scratch.iterdir()):
            os.replace(path, out_dir / path.name)
            written.append(out_dir / path.name)
    return written


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"out_dir {out_dir} is a file, not a directory: give a directory to write")
    parent = next((p for p in out_dir.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise FileExistsError(f"out_dir {out_dir} is inside {parent}, which is a file: give a directory to write")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        present = ", ".join(sorted(p.name for p in out_dir.iterdir())[:8])
        raise FileExistsError(
            f"out_dir {out_dir} is not empty ({present}): give an empty or new directory, or --overwrite to "
            f"replace the files an export writes there"
        )


# ----------------------------------------------------------------------------------------------
# our side: which head, with which weights and labels


def detect_head(state_dict: dict[str, torch.Tensor], source: str) -> type[nn.Module]:
    """Our model class for a state dict, from its head's parameter names."""
    heads = []
    if "classifier.out_proj.weight" in state_dict:
        heads.append(XLMRForSequenceClassification)
    classifier = state_dict.get("classifier.weight")
    if classifier is not None and classifier.dim() == 2 and "classifier.dense.weight" not in state_dict:
        heads.append(XLMRForTokenClassification)
    if "qa_outputs.weight" in state_dict:
        heads.append(XLMRForQuestionAnswering)
    if any(key.startswith("lm_head.") for key in state_dict):
        heads.append(XLMRForMaskedLM)
    if len(heads) != 1:
        found = ", ".join(h.__name__ for h in heads) or "none"
        raise ValueError(
            f"{source}: expected exactly one head (lm_head.*, classifier.dense/out_proj.*, classifier.*, "
            f"qa_outputs.*) in the model weights, found: {found}"
        )
    return heads[0]


def num_labels_of(state_dict: dict[str, torch.Tensor], model_class: type[nn.Module]) -> int:
    """Output width of a task head, from its final linear layer."""
    if model_class is XLMRForSequenceClassification:
        return state_dict["classifier.out_proj.weight"].shape[0]
    if model_class is XLMRForTokenClassification:
        return state_dict["classifier.weight"].shape[0]
    return 2  # question answering: start and end


def build_model(config: XLMRConfig, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Our model with the checkpoint's head, its weights loaded strictly, in eval mode."""
    model_class = detect_head(state_dict, source)
    if model_class is XLMRForMaskedLM:
        model = XLMRForMaskedLM(config)
    else:
        model = model_class(config, num_labels_of(state_dict, model_class))
    load_state_dict_checked(model, state_dict, source, allow_missing=(), allow_unexpected=())
    return model.eval()


def read_hparams(checkpoint: Path) -> dict:
    # mmap: only the small hyper_parameters entry is read, not the weights a second time
    return read_torch_file(checkpoint, mmap=True).get("hyper_parameters") or {}


def read_labels(checkpoint: Path) -> list[str] | None:
    """The run's label names (hyper_parameters.labels; [] = regression), None when not recorded."""
    labels = read_hparams(checkpoint).get("labels")
    return None if labels is None else [str(label) for label in labels]


# ----------------------------------------------------------------------------------------------
# HF side


def hf_label_fields(model: nn.Module, labels: list[str] | None) -> dict:
    """XLMRobertaConfig fields describing a classification head's outputs (none for MLM and QA)."""
    if not isinstance(model, XLMRForSequenceClassification | XLMRForTokenClassification):
        return {}
    if isinstance(model, XLMRForSequenceClassification) and labels == []:
        if model.num_labels != 1:
            raise ValueError(f"the run has no labels (regression) but its classifier has {model.num_labels} outputs")
        return {"num_labels": 1, "problem_type": "regression"}
    if labels is None:
        log.warning("the checkpoint records no labels: config.json gets LABEL_0..LABEL_%d", model.num_labels - 1)
        return {"num_labels": model.num_labels}
    if len(labels) != model.num_labels:
        raise ValueError(f"the run has {len(labels)} labels {labels} but its classifier has {model.num_labels} outputs")
    fields = {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
    if isinstance(model, XLMRForSequenceClassification):
        fields["problem_type"] = "single_label_classification"
    return fields


def to_hf_model(model: nn.Module, labels: list[str] | None) -> nn.Module:
    """The transformers model equivalent to ours, with our weights (every key, strictly)."""
    import transformers

    name = HF_CLASS[type(model)]
    fields = {**config_to_hf(model.config, architecture=name), **hf_label_fields(model, labels)}
    hf_config = transformers.XLMRobertaConfig(**fields)
    hf_model = getattr(transformers, name)(hf_config)  # task heads: XLMRobertaModel(add_pooling_layer=False)
    hf_model.load_state_dict(ours_to_hf(model.state_dict()), strict=True)
    return hf_model.eval()


def save_tokenizer(spm_path: Path, out_dir: Path, model_max_length: int) -> None:
    from transformers import XLMRobertaTokenizer

    # build the HF tokenizer from the .model alone: a stale tokenizer.json in out_dir must not win
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(spm_path, Path(tmp) / SPM_FILE)
        hf_tokenizer = XLMRobertaTokenizer.from_pretrained(tmp, model_max_length=model_max_length)
    hf_tokenizer.save_pretrained(out_dir)
    if not (out_dir / SPM_FILE).is_file():
        shutil.copyfile(spm_path, out_dir / SPM_FILE)


def auto_class_name(model: nn.Module) -> str:
    return HF_CLASS[type(model)].replace("XLMRoberta", "AutoModel")  # XLMRobertaForX -> AutoModelForX


# ----------------------------------------------------------------------------------------------
# checking the written directory


def check_export(out_dir: Path, model: nn.Module, tokenizer: XLMRTokenizer) -> None:
    """Reload out_dir with the Auto classes; its token ids and (padded-batch) logits must match ours."""
    import transformers

    hf_model = getattr(transformers, auto_class_name(model)).from_pretrained(out_dir, local_files_only=True).eval()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    batch = hf_tokenizer(list(CHECK_TEXTS), padding=True, return_tensors="pt")
    for row, text in enumerate(CHECK_TEXTS):
        ids = tokenizer.encode(text)
        if batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist() != ids:
            raise RuntimeError(f"exported tokenizer in {out_dir} disagrees with ours on {text!r}")
    with torch.no_grad():
        ours = our_logits(model, batch["input_ids"], batch["attention_mask"])
        theirs = hf_logits(hf_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]))
    if ours.shape != theirs.shape:
        raise RuntimeError(
            f"exported model in {out_dir} gives logits of shape {tuple(theirs.shape)}, ours {tuple(ours.shape)}"
        )
    diff = ours - theirs
    if diff.dim() == 3:  # per token: padding positions are not compared
        diff = diff[batch["attention_mask"].bool()]
    max_diff = diff.abs().max().item()
    if max_diff > TOL:
        raise RuntimeError(f"exported model in {out_dir} disagrees with ours: max |logit diff| = {max_diff:.2e}")


def our_logits(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, V or num_labels) or (B, T, V / num_labels / 2) logits of one of our models."""
    output = model(input_ids, attention_mask)
    return output[0] if isinstance(model, XLMRForMaskedLM) else output  # MLM: (logits, loss)


def hf_logits(output) -> torch.Tensor:
    """An HF output's logits in our layout: QA's start and end stacked as (B, T, 2)."""
    if "start_logits" in output:
        return torch.stack([output.start_logits, output.end_logits], dim=-1)
    return output.logits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="xlmr-export",
        description="Export an xlmr-lit checkpoint (pretrained or fine-tuned) to an HF XLMRoberta* directory.",
    )
    parser.add_argument("checkpoint", type=Path, help="e.g. <run_dir>/checkpoints/best.ckpt")
    parser.add_argument("out_dir", type=Path, help="directory to write (created if needed; refused if not empty)")
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help=f"SentencePiece model (default: the one recorded in the checkpoint, else <run_dir>/tokenizer/{SPM_FILE})",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty out_dir, replacing the files an export writes")
    args = parser.parse_args(argv)
    try:
        written = export(args.checkpoint, args.out_dir, args.tokenizer, overwrite=args.overwrite)
    except (ValueError, OSError) as err:
        sys.exit(f"xlmr-export: error: {err}")
    architecture = json.loads((args.out_dir / "config.json").read_text())["architectures"][0]
    print(f"wrote {args.out_dir} ({architecture}):")
    for path in written:
        print(f"  {path.name} ({path.stat().st_size:,} bytes)")
    auto = architecture.replace("XLMRoberta", "AutoModel")
    print(f"checked: {auto}/AutoTokenizer.from_pretrained reload it with our ids and logits")


if __name__ == "__main__":
    main()
