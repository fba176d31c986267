"""`xlmr-export CKPT OUT_DIR`: one of our checkpoints -> an HF `XLMRobertaForMaskedLM` directory.

The directory (config.json, model.safetensors, sentencepiece.bpe.model, tokenizer.json,
tokenizer_config.json) loads offline with `AutoModelForMaskedLM.from_pretrained(OUT_DIR)` and
`AutoTokenizer.from_pretrained(OUT_DIR)`; the export reloads it that way and checks it agrees.
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import torch

from xlmr_lit.convert import SPM_FILE, config_to_hf, load_our_checkpoint, load_state_dict_checked, ours_to_hf
from xlmr_lit.model import XLMRForMaskedLM
from xlmr_lit.tokenizer import XLMRTokenizer

CHECK_TEXTS = ("Hello world, this is XLM-R.", "Привет, мир! 你好，世界。")


def export(checkpoint: Path, out_dir: Path, tokenizer: Path | None = None) -> list[Path]:
    """Write the HF directory and return the files written."""
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaTokenizer

    config, state_dict, spm_path = load_our_checkpoint(checkpoint, tokenizer)
    model = XLMRForMaskedLM(config).eval()
    load_state_dict_checked(model, state_dict, str(checkpoint), allow_missing=(), allow_unexpected=())
    ours_tokenizer = XLMRTokenizer(spm_path)
    out_dir.mkdir(parents=True, exist_ok=True)

    hf_model = XLMRobertaForMaskedLM(XLMRobertaConfig(**config_to_hf(model.config)))
    hf_model.load_state_dict(ours_to_hf(model.state_dict()), strict=True)
    hf_model.save_pretrained(out_dir)

    # build the HF tokenizer from the .model alone: a stale tokenizer.json in out_dir must not win
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(spm_path, Path(tmp) / SPM_FILE)
        hf_tokenizer = XLMRobertaTokenizer.from_pretrained(
            tmp, model_max_length=model.config.max_position_embeddings - 2
        )
    hf_tokenizer.save_pretrained(out_dir)
    if not (out_dir / SPM_FILE).is_file():
        shutil.copyfile(spm_path, out_dir / SPM_FILE)

    _check_export(out_dir, model, ours_tokenizer)
    return sorted(p for p in out_dir.iterdir() if p.is_file())


def _check_export(out_dir: Path, model: XLMRForMaskedLM, tokenizer: XLMRTokenizer) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    hf_model = AutoModelForMaskedLM.from_pretrained(out_dir).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(out_dir)
    for text in CHECK_TEXTS:
        ids = tokenizer.encode(text)
        if hf_tokenizer(text)["input_ids"] != ids:
            raise RuntimeError(f"exported tokenizer in {out_dir} disagrees with ours on {text!r}")
        input_ids = torch.tensor([ids])
        with torch.no_grad():
            diff = (hf_model(input_ids=input_ids).logits - model(input_ids)[0]).abs().max().item()
        if diff > 1e-4:
            raise RuntimeError(f"exported model in {out_dir} disagrees with ours: max |logit diff| = {diff:.2e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="xlmr-export",
        description="Export an xlmr-lit checkpoint to an HF XLMRobertaForMaskedLM directory.",
    )
    parser.add_argument("checkpoint", type=Path, help="e.g. <run_dir>/checkpoints/best.ckpt")
    parser.add_argument("out_dir", type=Path, help="directory to write (created if needed)")
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help=f"SentencePiece model (default: the one recorded in the checkpoint, else <run_dir>/tokenizer/{SPM_FILE})",
    )
    args = parser.parse_args(argv)
    written = export(args.checkpoint, args.out_dir, args.tokenizer)
    print(f"wrote {args.out_dir}:")
    for path in written:
        print(f"  {path.name} ({path.stat().st_size:,} bytes)")
    print("checked: AutoModelForMaskedLM/AutoTokenizer.from_pretrained reload it with our ids and logits")


if __name__ == "__main__":
    main()
