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
