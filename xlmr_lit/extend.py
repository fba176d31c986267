"""Adding languages to a pretrained model (`extend.languages`), Glot500's recipe (Imani et al., ACL 2023):

1. a SentencePiece unigram model trained on the new languages' text, sampled with the run's alpha as pretraining does;
2. the pieces of it that the old vocabulary lacks appended to the old SentencePiece model with their scores, so every
   old piece keeps its id (and its bytes in the model file); `<mask>`, the last id, moves to the new last id;
3. the word embedding (tied to the LM head's decoder) and the LM head's bias grown by a row per new piece, set by
   `extend.init`:
   - `random`: N(0, initializer_range), bias 0: what a model trained from scratch starts with;
   - `mean`: the mean of the old rows (and biases) of the new piece's segmentation by the old tokenizer;
   - `focus`: FOCUS (Dobler & de Melo, EMNLP 2023, arXiv:2305.14481): a sparsemax-weighted sum of the old rows of the
     pieces that both vocabularies share, weighted by cosine similarity between static piece vectors trained on the new
     languages' text. FOCUS trains those with fastText; here they are PPMI + SVD of piece co-occurrence counts (no new
     dependency). New pieces absent from that text get random rows with the old rows' mean and standard deviation.
Continued pretraining (xlmr_lit/pretrain.py) then trains on data.languages, old and new, with alpha sampling.
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from xlmr_lit.convert import SPM_FILE, read_torch_file
from xlmr_lit.model import XLMRConfig
from xlmr_lit.prepare import atomic_dir, cache_key, file_sha256, prepare_tokenizer, sample_lines
from xlmr_lit.tokenizer import UNK_ID, XLMRTokenizer

log = logging.getLogger(__name__)

INIT_METHODS = ("random", "mean", "focus")
NO_EXTENSION = "none"  # extend.init=none: keep the old vocabulary (the baseline of experiments/extend_languages.yaml)
EMBEDDINGS, BIAS = "roberta.embeddings.word_embeddings.weight", "lm_head.bias"
HF_CONFIG_KEY = "xlmr_lit_extension"  # the extension record in an exported config.json
FOCUS_LINES_PER_LANGUAGE = 20000  # lines of each new language's text that the static piece vectors are trained on
FOCUS_WINDOW = 2  # pieces either side that count as co-occurring
FOCUS_DIM = 64


def extends(cfg: DictConfig) -> bool:
    return bool(cfg.extend.languages) and cfg.extend.init != NO_EXTENSION


# ----------------------------------------------------------------------------------------------
# the vocabulary


def load_proto(spm_path: Path):
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(Path(spm_path).read_bytes())
    return proto


def merge_sentencepiece(old_spm: Path, new_spm: Path, out: Path) -> list[str]:
    """Write `out`: the old model with the new model's normal pieces that it lacks appended, scores kept; returns
    those pieces."""
    old, new = load_proto(old_spm), load_proto(new_spm)
    have = {p.piece for p in old.pieces}
    added = []
    for piece in new.pieces:
        if piece.type != piece.NORMAL or piece.piece in have:
            continue
        appended = old.pieces.add()
        appended.piece, appended.score, appended.type = piece.piece, piece.score, piece.NORMAL
        have.add(piece.piece)
        added.append(piece.piece)
    old.trainer_spec.vocab_size = len(old.pieces)
    out.write_bytes(old.SerializeToString())
    return added


def grow_vocabulary(state_dict: dict[str, torch.Tensor], rows: torch.Tensor,
                    bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """The state dict with `rows` (n, H) and `bias` (n,) inserted before the last id, `<mask>`, which stays last."""
    grown = dict(state_dict)
    embeddings = state_dict[EMBEDDINGS]
    grown[EMBEDDINGS] = torch.cat([embeddings[:-1], rows.to(embeddings.dtype), embeddings[-1:]])
    if "lm_head.decoder.weight" in grown:
        grown["lm_head.decoder.weight"] = grown[EMBEDDINGS]
    if BIAS in state_dict:
        old_bias = state_dict[BIAS]
        grown[BIAS] = torch.cat([old_bias[:-1], bias.to(old_bias.dtype), old_bias[-1:]])
    return grown


# ----------------------------------------------------------------------------------------------
# new rows


def random_rows(count: int, hidden: int, std: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, hidden, generator=generator) * std, torch.zeros(count)


def old_segmentation(old: XLMRTokenizer, piece: str) -> list[int]:
    """The old tokenizer's ids for the text of `piece`, <unk> left out. A piece without the word-start mark (▁) is a
    word's continuation: the ▁ piece SentencePiece puts before any text is dropped when it stands alone."""
    ids = old.encode(piece.replace("\u2581", " "))[1:-1]
    if not piece.startswith("\u2581") and ids and old.sp.id_to_piece(ids[0] - 1) == "\u2581":
        ids = ids[1:]
    return [i for i in ids if i != UNK_ID]


def mean_rows(embeddings: torch.Tensor, bias: torch.Tensor, old: XLMRTokenizer, pieces: list[str],
              seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per new piece, the mean old row and bias of its old segmentation; pieces of which the old tokenizer knows no more
    than <unk> and the word-start mark get random rows with the old rows' mean and std. Returns (rows, biases, how many
    were random)."""
    word_start = old.sp.piece_to_id("\u2581") + 1
    rows, biases, missing = [], [], []
    for i, piece in enumerate(pieces):
        ids = old_segmentation(old, piece)
        if not ids or ids == [word_start]:
            missing.append(i)
            ids = [UNK_ID]
        rows.append(embeddings[ids].mean(0))
        biases.append(bias[ids].mean())
    rows, biases = torch.stack(rows), torch.stack(biases)
    if missing:
        rows[missing] = like_old_rows(embeddings, len(missing), seed)
        biases[missing] = bias[:-1].mean()
    return rows, biases, len(missing)


def like_old_rows(embeddings: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Random rows with the per-dimension mean and std of the old ones (FOCUS's fallback)."""
    generator = torch.Generator().manual_seed(seed)
    mean, std = embeddings.mean(0), embeddings.std(0)
    return mean + std * torch.randn(count, embeddings.shape[1], generator=generator)


def sparsemax(scores: np.ndarray) -> np.ndarray:
    """Martins & Astudillo (2016): the Euclidean projection onto the simplex; most weights are exactly 0."""
    ordered = np.sort(scores)[::-1]
    k = np.arange(1, len(scores) + 1)
    cumulative = np.cumsum(ordered)
    support = k[1 + k * ordered > cumulative][-1]
    threshold = (cumulative[support - 1] - 1) / support
    return np.maximum(scores - threshold, 0.0)


def piece_vectors(sequences: list[np.ndarray], vocab_size: int, dim: int = FOCUS_DIM,
                  window: int = FOCUS_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Static vectors (vocab_size, dim) of pieces from id sequences: truncated SVD of the positive PMI of co-occurrence
    within `window` pieces; and which ids occurred."""
    import scipy.sparse
    import scipy.sparse.linalg

    rows, cols = [], []
    for seq in sequences:
        for offset in range(1, window + 1):
            rows += [seq[:-offset], seq[offset:]]
            cols += [seq[offset:], seq[:-offset]]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    counts = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(vocab_size, vocab_size)).tocsr()
    counts.sum_duplicates()
    total = counts.sum()
    row_sums, col_sums = np.asarray(counts.sum(1)).ravel(), np.asarray(counts.sum(0)).ravel()
    coo = counts.tocoo()
    pmi = np.log(coo.data * total / (row_sums[coo.row] * col_sums[coo.col]))
    keep = pmi > 0
    ppmi = scipy.sparse.coo_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape).tocsr()
    k = max(1, min(dim, min(ppmi.shape) - 1))
    u, s, _ = scipy.sparse.linalg.svds(ppmi, k=k, random_state=0)
    return u * np.sqrt(s), row_sums > 0


def focus_rows(embeddings: torch.Tensor, bias: torch.Tensor, new_spm: Path, old_vocab: dict[str, int],
               pieces: list[str], texts: list[str], seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """FOCUS: per new piece, the sparsemax(cosine similarity)-weighted sum of the old rows (and biases) of the pieces
    shared by the new languages' tokenizer and the old vocabulary; similarity between static vectors of the new
    tokenizer's pieces on `texts`. Returns (rows, biases, how many new pieces `texts` lacked: random rows)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(new_spm))
    sequences = [np.asarray(ids, dtype=np.int64) for ids in sp.encode(texts) if len(ids) > 1]
    vectors, seen = piece_vectors(sequences, len(sp))
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    shared = [(i, old_vocab[sp.id_to_piece(i)]) for i in range(len(sp))
              if seen[i] and not sp.is_control(i) and not sp.is_unknown(i) and sp.id_to_piece(i) in old_vocab]
    shared_new, shared_old = np.array([i for i, _ in shared]), torch.tensor([j for _, j in shared])
    if not len(shared):
        raise ValueError("extend.init=focus: the new languages' tokenizer shares no piece with the old vocabulary; "
                         "use extend.init=mean or random")
    rows, biases, missing = [], [], []
    for n, piece in enumerate(pieces):
        i = sp.piece_to_id(piece)
        if not seen[i]:
            missing.append(n)
            rows.append(embeddings[0])
            biases.append(bias[0])
            continue
        weights = torch.from_numpy(sparsemax(vectors[shared_new] @ vectors[i])).to(embeddings.dtype)
        chosen = weights > 0
        rows.append(weights[chosen] @ embeddings[shared_old[chosen]])
        biases.append(weights[chosen] @ bias[shared_old[chosen]])
    rows, biases = torch.stack(rows), torch.stack(biases)
    if missing:
        rows[missing] = like_old_rows(embeddings, len(missing), seed)
        biases[missing] = bias[:-1].mean()
    return rows, biases, len(missing)


# ----------------------------------------------------------------------------------------------
# the whole step, as pretraining calls it


def extension_record(init: str) -> dict | None:
    """What an earlier extension recorded in model.init (our checkpoint's hyper_parameters, or an exported
    config.json); None for a model that was never extended."""
    kind, _, location = init.partition(":")
    if kind == "hf":
        config = Path(location).expanduser() / "config.json"
        return json.loads(config.read_text()).get(HF_CONFIG_KEY) if config.is_file() else None
    if kind == "fairseq" or not init.endswith(".ckpt") or not Path(init).expanduser().is_file():
        return None
    hparams = read_torch_file(Path(init).expanduser(), mmap=True).get("hyper_parameters") or {}
    return hparams.get("extension")


def pretrained_languages(init: str) -> set[str]:
    """The languages model.init was pretrained on, where known: our checkpoint records them (and those it was extended
    by); a 250002-entry HF or fairseq model is taken to be a released XLM-R, with its 100 languages."""
    from xlmr_lit.languages import XLMR_LANGUAGES

    kind, _, location = init.partition(":")
    if kind in ("hf", "fairseq"):
        import sentencepiece as spm

        tokenizer = Path(location).expanduser() / SPM_FILE
        released = tokenizer.is_file() and len(spm.SentencePieceProcessor(model_file=str(tokenizer))) + 2 == 250002
        record = extension_record(init)
        return (set(XLMR_LANGUAGES) if released else set()) | set(record["languages"] if record else [])
    hparams = read_torch_file(Path(init).expanduser(), mmap=True).get("hyper_parameters") or {}
    record = hparams.get("extension") or {}
    return set(hparams.get("languages") or []) | set(record.get("languages", []))


def extend_model(cfg: DictConfig, init: tuple[XLMRConfig, dict, Path], files: dict[str, Path],
                 cache_dir: Path) -> tuple[tuple[XLMRConfig, dict, Path], dict]:
    """model.init's (config, state dict, SentencePiece path) extended to cfg.extend.languages (whose corpus files
    are `files`), and the record of what was done."""
    config, state_dict, old_spm = init
    new_spm = prepare_tokenizer(
        files, cache_dir, cfg.extend.vocab_size, cfg.tokenizer.sample_lines, cfg.tokenizer.character_coverage,
        cfg.data.alpha, cfg.seed, cfg.data.num_proc, cfg.data.skip_undecodable, "unigram",
    )
    key = cache_key({"extend": file_sha256(Path(old_spm)), "with": file_sha256(new_spm)})
    merged_dir = cache_dir / "tokenizers" / key
    merged = merged_dir / SPM_FILE
    if not merged.is_file():
        with atomic_dir(merged_dir) as scratch:
            merge_sentencepiece(Path(old_spm), new_spm, scratch / SPM_FILE)
    old, extended = XLMRTokenizer(old_spm), XLMRTokenizer(merged)
    pieces = [extended.sp.id_to_piece(i) for i in range(len(old.sp), len(extended.sp))]
    languages = list(cfg.extend.languages)
    if not pieces:
        raise ValueError(f"extend.languages={languages}: their tokenizer has no piece that model.init's vocabulary "
                         f"lacks, so there is nothing to add: model.init covers them already")
    embeddings, bias = state_dict[EMBEDDINGS].float(), state_dict.get(BIAS)
    bias = bias.float() if bias is not None else torch.zeros(len(embeddings))
    method, seed = cfg.extend.init, cfg.seed
    random_count = 0
    if method == "random":
        rows, biases = random_rows(len(pieces), config.hidden_size, config.initializer_range, seed)
        random_count = len(pieces)
    elif method == "mean":
        rows, biases, random_count = mean_rows(embeddings, bias, old, pieces, seed)
    elif method == "focus":
        texts = [line for lang, path in files.items()
                 for line in sample_lines(path, FOCUS_LINES_PER_LANGUAGE, seed, cfg.data.skip_undecodable)[0]]
        old_vocab = {old.sp.id_to_piece(i): i + 1 for i in range(3, len(old.sp))}  # fairseq ids
        rows, biases, random_count = focus_rows(embeddings, bias, new_spm, old_vocab, pieces, texts, seed)
    else:
        raise ValueError(f"extend.init={method!r}: expected one of {', '.join(INIT_METHODS)} or {NO_EXTENSION}")
    grown = grow_vocabulary(state_dict, rows, biases)
    record = {"base": str(cfg.model.init), "languages": languages, "init": method, "old_vocab_size": config.vocab_size,
              "added_pieces": len(pieces), "random_rows": random_count}
    log.info(f"extend: {len(pieces)} pieces of {languages} appended to model.init's {len(old.sp)} (vocabulary "
             f"{config.vocab_size} -> {extended.vocab_size}; <mask> {old.mask_id} -> {extended.mask_id}); new rows: "
             f"{method}" + (f", {random_count} of them random (no old pieces to start from)" if random_count and
                            method != "random" else "") + f"; tokenizer {merged}")
    new_config = XLMRConfig(**{**vars(config), "vocab_size": extended.vocab_size})
    return (new_config, grown, merged), record
