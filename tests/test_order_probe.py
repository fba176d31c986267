"""benchmarks/order_probe.py: the pseudo-log-likelihood it compares runs by."""

import runpy
from pathlib import Path

import torch

from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM

probe = runpy.run_path(str(Path(__file__).parents[1] / "benchmarks" / "order_probe.py"), run_name="order_probe")


class WordTokenizer:
    """<s>=0, </s>=2, words -> 4 + their index, <mask> the last id."""

    mask_id = 19

    def encode(self, text: str) -> list[int]:
        return [0, *(4 + "abcdefghijklmno".index(w) for w in text.split()), 2]


def test_pseudo_log_likelihood_masks_each_token_once():
    torch.manual_seed(0)
    model = XLMRForMaskedLM(XLMRConfig(vocab_size=20, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=20)).eval()
    tokenizer = WordTokenizer()
    ids = tokenizer.encode("a c b e")
    expected = []
    for i in range(1, len(ids) - 1):
        masked = list(ids)
        masked[i] = tokenizer.mask_id
        with torch.no_grad():
            expected.append(model(torch.tensor([masked]))[0][0, i].log_softmax(-1)[ids[i]].item())
    got = probe["pseudo_log_likelihood"](model, tokenizer, "a c b e")
    assert abs(got - sum(expected) / len(expected)) < 1e-5
    assert got != probe["pseudo_log_likelihood"](model, tokenizer, "e b c a")  # order reaches the score


def test_held_out_sentences_come_from_the_validation_documents_only(tmp_path):
    letters = "abcdefghijklmnopqrstuvwxyz"

    def sentence(doc: int, k: int) -> str:  # 10 plain words, unique per (doc, k)
        return " ".join(letters[doc % 26] + letters[k % 26] + letters[k // 26] + letters[w] for w in range(10)) + "."

    docs = []
    for doc in range(30):
        lines = [" ".join(sentence(doc, k) for k in range(j * 4, j * 4 + 4)) for j in range(25)]  # 100 sentences
        lines += ["Too short a sentence.", "Run --foo=1 /usr/bin/x --bar=2 -q -v -x -y -z --baz now."]
        docs.append("\n".join(lines))
    (tmp_path / "en.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    sentences = probe["held_out_sentences"](tmp_path)
    held_out = {sentence(doc, k) for doc in (0, 10, 20) for k in range(100)}  # every 10th document, from the first
    assert len(sentences) == probe["SENTENCES"] == len(set(sentences)) and set(sentences) <= held_out
    assert {s[0] for s in sentences} == {"a", "k", "u"}  # spread over the three held-out documents
