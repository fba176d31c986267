"""`xlmr-trim MODEL OUT_DIR --languages ...`: keep only the vocabulary a corpus uses.

MODEL is what model.init takes (one of our .ckpt, hf:<dir>, fairseq:<dir>). Every piece the corpus's text is encoded
with is kept, with the specials (`<s> <pad> </s> <unk>`, `<mask>` last) and the lowest-scored piece (SentencePiece's
<unk> penalty is computed from it); the others leave the SentencePiece model, and their rows leave the word embedding,
the tied LM head and its bias. Kept pieces keep their order and scores, so the corpus's text gets the same pieces as
before and the masked-LM logits of the kept pieces stay what they were; the command checks both before it writes
OUT_DIR/checkpoints/trimmed.ckpt (for model.init and xlmr-export), OUT_DIR/tokenizer/ and OUT_DIR/hf/ (transformers).
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from xlmr_lit.convert import SPM_FILE, init_problem, load_pretrained, load_state_dict_checked
from xlmr_lit.corpus import CorpusError, ReadReport, language_file, read_documents
from xlmr_lit.extend import BIAS, EMBEDDINGS, load_proto
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.model import XLMRForMaskedLM
from xlmr_lit.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, XLMRTokenizer

TOL = 1e-5
CHECK_LINES = 32  # lines whose logits are compared
SPECIAL_SPM_IDS = (0, 1, 2)  # SentencePiece's <unk>, <s>, </s>


def corpus_lines(files: dict[str, Path]) -> list[str]:
    return [line for path in files.values() for doc in read_documents(path, ReadReport(path)) for line in doc]


def used_ids(tokenizer: XLMRTokenizer, lines: list[str]) -> set[int]:
    """The ids of the pieces `lines` are encoded with, <unk> left out."""
    ids, _ = tokenizer.encode_lines(lines)
    return set(np.unique(ids).tolist()) - {BOS_ID, PAD_ID, EOS_ID, UNK_ID}


def kept_ids(tokenizer: XLMRTokenizer, used: set[int]) -> np.ndarray:
    """The fairseq ids to keep, in order: the specials, `used`, the lowest-scored piece, <mask>."""
    sp = tokenizer.sp
    normal = [i for i in range(len(sp)) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i))]
    lowest = min(normal, key=sp.get_score) + 1
    return np.array([BOS_ID, PAD_ID, EOS_ID, UNK_ID, *sorted(used | {lowest}), tokenizer.mask_id])


def trim_sentencepiece(spm_path: Path, keep: np.ndarray, out: Path) -> None:
    """The SentencePiece model with only the pieces of fairseq ids `keep` (and SentencePiece's own specials)."""
    proto = load_proto(spm_path)
    spm_ids = [*SPECIAL_SPM_IDS, *(int(i) - 1 for i in keep[4:-1])]
    pieces = [proto.pieces[i] for i in spm_ids]
    del proto.pieces[:]
    proto.pieces.extend(pieces)
    proto.trainer_spec.vocab_size = len(pieces)
    out.write_bytes(proto.SerializeToString())


def trimmed_state_dict(state_dict: dict[str, torch.Tensor], keep: np.ndarray) -> dict[str, torch.Tensor]:
    index = torch.from_numpy(keep)
    trimmed = dict(state_dict)
    trimmed[EMBEDDINGS] = state_dict[EMBEDDINGS][index].clone()
    trimmed["lm_head.decoder.weight"] = trimmed[EMBEDDINGS]
    trimmed[BIAS] = state_dict[BIAS][index].clone()
    return trimmed


def check_trim(old_model, new_model, old_tokenizer: XLMRTokenizer, new_tokenizer: XLMRTokenizer, keep: np.ndarray,
               lines: list[str]) -> float:
    """The trimmed tokenizer gives `lines` the same pieces, and the trimmed model the same logits on the kept pieces
    (max |difference| returned); RuntimeError otherwise."""
    old_ids, _ = old_tokenizer.encode_lines(lines)
    new_ids, _ = new_tokenizer.encode_lines(lines)
    if not np.array_equal(keep[new_ids], old_ids):
        raise RuntimeError("the trimmed tokenizer segments the corpus differently from the original")
    batch = [new_tokenizer.encode(line)[: old_model.config.max_position_embeddings - 2] for line in lines[:CHECK_LINES]]
    width = max(map(len, batch))
    new_input = torch.tensor([ids + [PAD_ID] * (width - len(ids)) for ids in batch])
    mask = new_input.ne(PAD_ID)
    with torch.no_grad():
        new_logits, _ = new_model(new_input, mask.long())
        old_logits, _ = old_model(torch.from_numpy(keep)[new_input], mask.long())
    diff = (new_logits - old_logits[..., torch.from_numpy(keep)])[mask].abs().max().item()
    if diff > TOL:
        raise RuntimeError(f"the trimmed model's logits differ from the original's by up to {diff:.2e} (> {TOL})")
    return diff


def trim(init: str, out_dir: Path, languages: list[str], corpus_dir: Path = BUNDLED_CORPUS_DIR,
         overwrite: bool = False) -> dict:
    """Write the trimmed model into `out_dir` (see the module docstring); returns what was kept and checked."""
    from xlmr_lit.export import check_out_dir, export

    check_out_dir(out_dir, overwrite)
    if problem := init_problem(init):
        raise ValueError(f"{init}: expected a masked-LM model with its tokenizer; {problem}")
    files = {lang: language_file(corpus_dir, lang) for lang in languages}
    config, state_dict, spm_path = load_pretrained(init)
    if BIAS not in state_dict or "lm_head.dense.weight" not in state_dict:
        raise ValueError(f"{init} has no masked-LM head (lm_head.*): trimming keeps its logits, so it needs one")
    old_tokenizer = XLMRTokenizer(spm_path)
    lines = corpus_lines(files)
    used = used_ids(old_tokenizer, lines)
    if not used - {old_tokenizer.sp.piece_to_id("\u2581") + 1}:
        raise CorpusError(f"the text of {languages} in {corpus_dir} uses no piece of {spm_path} but the word-start "
                          f"mark (it is empty, or every character is <unk>): trimming to it would leave nothing")
    keep = kept_ids(old_tokenizer, used)
    old_model = XLMRForMaskedLM(config)
    load_state_dict_checked(old_model, state_dict, init)
    new_config = dataclasses.replace(config, vocab_size=len(keep))
    new_model = XLMRForMaskedLM(new_config)
    load_state_dict_checked(new_model, trimmed_state_dict(old_model.state_dict(), keep), "the trimmed model")
    tokenizer_dir, checkpoint_dir = out_dir / "tokenizer", out_dir / "checkpoints"
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir.mkdir(exist_ok=True)
    trim_sentencepiece(Path(spm_path), keep, tokenizer_dir / SPM_FILE)
    new_tokenizer = XLMRTokenizer(tokenizer_dir / SPM_FILE)
    diff = check_trim(old_model.eval(), new_model.eval(), old_tokenizer, new_tokenizer, keep, lines)
    record = {"base": init, "languages": list(languages), "corpus_dir": str(corpus_dir), "kept": len(keep),
              "of": config.vocab_size}
    checkpoint = checkpoint_dir / "trimmed.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in new_model.state_dict().items()},
                "hyper_parameters": {"model_config": dataclasses.asdict(new_config), "languages": list(languages),
                                     "tokenizer_path": str((tokenizer_dir / SPM_FILE).resolve()), "trim": record}},
               checkpoint)
    export(checkpoint, out_dir / "hf", overwrite=overwrite)
    return {**record, "parameters_before": old_model.num_parameters(), "parameters_after": new_model.num_parameters(),
            "max_logit_difference": diff, "checkpoint": str(checkpoint)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="xlmr-trim", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="what model.init takes: <run>/checkpoints/best.ckpt, hf:<dir>, fairseq:<dir>")
    parser.add_argument("out_dir", type=Path, help="writes checkpoints/trimmed.ckpt, tokenizer/ and hf/ here")
    parser.add_argument("--languages", nargs="+", required=True, help="the languages whose text decides what is kept")
    parser.add_argument("--corpus-dir", type=Path, default=BUNDLED_CORPUS_DIR,
                        help="<lang>.txt[.gz|.xz] files (default: the bundled UDHR text)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty out_dir")
    args = parser.parse_args(argv)
    try:
        done = trim(args.model, args.out_dir, args.languages, args.corpus_dir, args.overwrite)
    except (ValueError, OSError, CorpusError) as err:
        sys.exit(f"xlmr-trim: error: {err}")
    print(f"kept {done['kept']:,} of {done['of']:,} vocabulary entries (the pieces {' '.join(args.languages)} use)")
    print(f"parameters: {done['parameters_before']:,} -> {done['parameters_after']:,} "
          f"({done['parameters_after'] / done['parameters_before']:.1%})")
    print(f"checked: same pieces on the corpus; masked-LM logits of the kept pieces within "
          f"{done['max_logit_difference']:.1e} of the original's")
    print(f"wrote {done['checkpoint']} (model.init, xlmr-export) and {args.out_dir / 'hf'} (transformers)")


if __name__ == "__main__":
    main()
