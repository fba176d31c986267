"""SentencePiece with fairseq/HF XLM-R ids: <s>=0 <pad>=1 </s>=2 <unk>=3, pieces +1, <mask> last.

The released XLM-R `sentencepiece.bpe.model` (a unigram model despite its name) drops in
unchanged: SentencePiece's own unk/bos/eos (0, 1, 2) map onto the four specials, and every
other piece id is shifted by one, so vocab_size = len(spm) + 2 (250002 for XLM-R).
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm

BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPM_UNK_ID = 0  # SentencePiece's defaults: unk=0, bos=1, eos=2, no pad
FAIRSEQ_OFFSET = 1


@dataclass(frozen=True)
class Specials:
    """How a model's tokenizer frames one text (prefix A suffix) or a pair (prefix A middle B suffix), and pads.

    XLM-R: `<s> A </s></s> B </s>`; BERT: `[CLS] A [SEP] B [SEP]`, the second text with token type 1; XLM:
    `<s> A </s> B </s>`. The fine-tuning features are built from these, whatever the tokenizer.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    pad_id: int
    unk_id: int
    token_types: bool = False


XLMR_SPECIALS = Specials((BOS_ID,), (EOS_ID, EOS_ID), (EOS_ID,), PAD_ID, UNK_ID)


class XLMRTokenizer:
    specials = XLMR_SPECIALS
    lang2id = None  # XLM-R has no language embeddings

    def __init__(self, spm_path: str | Path):
        self.spm_path = Path(spm_path)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.spm_path))
        self.vocab_size = len(self.sp) + 2
        self.mask_id = self.vocab_size - 1
        self.bos_id, self.pad_id, self.eos_id, self.unk_id = BOS_ID, PAD_ID, EOS_ID, UNK_ID

    def pieces_to_ids(self, spm_ids: np.ndarray) -> np.ndarray:
        ids = spm_ids + FAIRSEQ_OFFSET
        ids[spm_ids == SPM_UNK_ID] = UNK_ID
        return ids

    def encode_lines(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of many lines without specials, concatenated (int32), and each line's length."""
        encoded = self.sp.encode(lines, return_type="numpy")  # int32 arrays: no Python int per token
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        flat = np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.int32)
        return self.pieces_to_ids(flat.astype(np.int32, copy=False)), lengths

    def encode(self, text: str, pair: str | None = None) -> list[int]:
        """`<s> A </s>` or, for a pair, `<s> A </s></s> B </s>`."""
        ids = [BOS_ID, *self.pieces_to_ids(np.asarray(self.sp.encode(text), dtype=np.int64)).tolist(), EOS_ID]
        if pair is not None:
            ids += [EOS_ID, *self.pieces_to_ids(np.asarray(self.sp.encode(pair), dtype=np.int64)).tolist(), EOS_ID]
        return ids

    def pieces(self, text: str) -> list[int]:
        """Ids of `text` without `<s>`/`</s>`."""
        return self.pieces_to_ids(np.asarray(self.sp.encode(text), dtype=np.int64)).tolist()

    def pieces_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.pieces_to_ids(np.asarray(ids, dtype=np.int64)).tolist() for ids in self.sp.encode(texts)]

    def word_pieces(self, words: list[str]) -> list[list[int]]:
        """Ids of each word on its own ("▁" + the word's pieces); a word SentencePiece normalises away has none."""
        flat, lengths = self.encode_lines(words)
        ends = lengths.cumsum().tolist()
        flat = flat.tolist()
        return [flat[end - n:end] for end, n in zip(ends, lengths.tolist())]

    def pieces_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        from xlmr_lit.tokenizer_offsets import pieces_with_offsets

        return pieces_with_offsets(self, text)

    def decode(self, ids: list[int]) -> str:
        pieces = [i - FAIRSEQ_OFFSET for i in ids if i > UNK_ID and i != self.mask_id]
        return self.sp.decode(pieces)


class VocabularyTooLargeError(ValueError):
    pass


class VocabularyTooSmallError(ValueError):
    pass


def train_sentencepiece(
    sample_file: Path,
    model_prefix: Path,
    vocab_size: int,
    character_coverage: float,
    num_threads: int = 1,
    model_type: str = "unigram",
) -> Path:
    """Train a SentencePiece model (unigram or bpe) whose fairseq vocabulary (pieces + 2) has `vocab_size` entries."""
    try:
        spm.SentencePieceTrainer.train(
            input=str(sample_file),
            model_prefix=str(model_prefix),
            vocab_size=vocab_size - 2,
            model_type=model_type,
            character_coverage=character_coverage,
            input_sentence_size=0,  # the sample is already drawn with the alpha-smoothed distribution
            num_threads=num_threads,
            minloglevel=2,
        )
    except RuntimeError as err:
        if limit := re.search(r"Vocabulary size too high.*<= (\d+)", str(err)):
            raise VocabularyTooLargeError(
                f"tokenizer.vocab_size={vocab_size} is more than the text supports: SentencePiece can build at most "
                f"{int(limit.group(1)) + 2} entries from this sample. Lower tokenizer.vocab_size (model.vocab_size) "
                f"or add text."
            ) from None
        if needed := re.search(r"smaller than required_chars\. (\d+) vs (\d+)", str(err)):
            raise VocabularyTooSmallError(
                f"tokenizer.vocab_size={vocab_size} is too small: at tokenizer.character_coverage={character_coverage} "
                f"the sample has {int(needed.group(2))} characters (and special pieces) that each need an entry, so "
                f"tokenizer.vocab_size (model.vocab_size) must be at least {int(needed.group(2)) + 2}, or lower "
                f"tokenizer.character_coverage"
            ) from None
        raise
    model_file = Path(f"{model_prefix}.model")
    forget_training_paths(model_file)
    return model_file


def forget_training_paths(model_file: Path) -> None:
    """SentencePiece records its input and output paths in the model; clear them, so that equal inputs give
    byte-equal models (and equal cache keys downstream) whatever scratch directory they were trained in."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    del proto.trainer_spec.input[:]
    proto.trainer_spec.model_prefix = ""
    model_file.write_bytes(proto.SerializeToString())
