"""Token ids with character offsets into the original text, for extractive QA.

Offsets follow HF fast tokenizers: (start, end) character spans with whitespace left out, (0, 0)
for `<s>` and `</s>`. A piece that is only the word-boundary marker "▁" covers no character: its
span is empty, (s, s), at the start of the word that follows (HF gives it that word's first
character instead). Every other piece's span is exactly the characters it was built from.
"""

import numpy as np

# XLMRTokenizer is not imported: its pieces_with_offsets calls this module (annotations name it as a string)

SPECIAL_SPAN = (0, 0)


def pieces_with_offsets(tokenizer: "XLMRTokenizer", text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Ids of `text` without `<s>`/`</s>` (as `tokenizer.encode_lines`) and each one's character span."""
    spm_ids, spans = _spm_char_spans(tokenizer, text)
    ids = tokenizer.pieces_to_ids(np.asarray(spm_ids, dtype=np.int64)).tolist()
    offsets = []
    for start, end in spans:
        # SentencePiece attaches the whitespace before a word to the word's first piece
        while start < end and text[start].isspace():
            start += 1
        offsets.append((start, end))
    return ids, offsets


def encode_with_offsets(
    tokenizer: "XLMRTokenizer", text: str, pair: str | None = None
) -> tuple[list[int], list[tuple[int, int]]]:
    """`tokenizer.encode(text, pair)` and the character span of every id.

    Spans of the second segment index into `pair`, as HF's `offset_mapping` does.
    """
    ids, offsets = pieces_with_offsets(tokenizer, text)
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    ids, offsets = [bos, *ids, eos], [SPECIAL_SPAN, *offsets, SPECIAL_SPAN]
    if pair is not None:
        pair_ids, pair_offsets = pieces_with_offsets(tokenizer, pair)
        ids += [eos, *pair_ids, eos]
        offsets += [SPECIAL_SPAN, *pair_offsets, SPECIAL_SPAN]
    return ids, offsets


def _spm_char_spans(tokenizer: "XLMRTokenizer", text: str) -> tuple[list[int], list[tuple[int, int]]]:
    # both APIs give character (not byte) offsets for str input
    try:  # sentencepiece >= 0.2.1
        result = tokenizer.sp.encode(text, out_type="offset_mapping")
        return list(result["ids"]), [tuple(span) for span in result["offsets"]]
    except (ValueError, RuntimeError):  # sentencepiece 0.1.9x / 0.2.0
        pieces = tokenizer.sp.encode(text, out_type="immutable_proto").pieces
        return [p.id for p in pieces], [(p.begin, p.end) for p in pieces]
