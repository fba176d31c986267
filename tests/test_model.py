import pytest
import torch
import transformers

from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM, position_ids_from_input_ids

TINY = dict(vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def hf_pair(seed: int = 0):
    hf_config = transformers.XLMRobertaConfig(
        **TINY, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(seed)
    hf = transformers.XLMRobertaForMaskedLM(hf_config).eval()
    ours = XLMRForMaskedLM(XLMRConfig(**TINY, max_position_embeddings=40)).eval()
    state = hf.state_dict()
    assert torch.equal(state.pop("lm_head.decoder.bias"), state["lm_head.bias"])  # HF's tied alias
    ours.load_state_dict(state, strict=True)
    return hf, ours


def padded_batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, 101, (3, 12), generator=g)
    ids[:, 0] = 0
    ids[1, 8:] = 1
    ids[2, 5:] = 1
    return ids, ids.ne(1).long()


def test_logits_match_transformers_with_padding():
    hf, ours = hf_pair()
    ids, mask = padded_batch()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).logits
        got, loss = ours(ids, mask)
    assert loss is None
    assert got.shape == expected.shape == (3, 12, 101)
    real = mask.bool()
    assert (got - expected)[real].abs().max() <= 1e-5
    assert (got - expected).abs().max() <= 1e-5  # padding positions too


def test_masked_only_head_equals_full_head_at_targets():
    _, ours = hf_pair()
    ids, mask = padded_batch()
    labels = torch.full_like(ids, -100)
    labels[0, 3], labels[2, 1] = 7, 9
    with torch.no_grad():
        full, _ = ours(ids, mask)
        at_targets, loss = ours(ids, mask, labels)
    assert at_targets.shape == (2, 101)
    torch.testing.assert_close(at_targets, full[labels.ne(-100)])
    expected_loss = torch.nn.functional.cross_entropy(full[labels.ne(-100)], labels[labels.ne(-100)])
    torch.testing.assert_close(loss, expected_loss)


def test_positions_start_after_padding_idx_and_padding_stays_put():
    ids = torch.tensor([[0, 5, 6, 2, 1, 1]])
    assert position_ids_from_input_ids(ids, 1).tolist() == [[2, 3, 4, 5, 1, 1]]


def test_initialisation_and_tying():
    model = XLMRForMaskedLM(XLMRConfig(**TINY))
    emb = model.roberta.embeddings.word_embeddings.weight
    assert model.lm_head.decoder.weight is emb
    assert torch.count_nonzero(emb[1]) == 0  # pad row
    assert 0.015 < emb[4:].std().item() < 0.025


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="hidden_size=100 is not divisible by model.num_attention_heads=3"):
        XLMRConfig(hidden_size=100, num_attention_heads=3)


@pytest.mark.parametrize(
    "ours_cls, hf_cls, num_labels",
    [
        ("XLMRForSequenceClassification", "XLMRobertaForSequenceClassification", 3),
        ("XLMRForSequenceClassification", "XLMRobertaForSequenceClassification", 1),
        ("XLMRForTokenClassification", "XLMRobertaForTokenClassification", 9),
        ("XLMRForQuestionAnswering", "XLMRobertaForQuestionAnswering", 2),
    ],
)
def test_task_heads_match_transformers(ours_cls, hf_cls, num_labels):
    import xlmr_lit.model as ours_module

    hf_config = transformers.XLMRobertaConfig(
        **TINY, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5, num_labels=num_labels
    )
    torch.manual_seed(0)
    hf = getattr(transformers, hf_cls)(hf_config).eval()
    ours = getattr(ours_module, ours_cls)(XLMRConfig(**TINY, max_position_embeddings=40), num_labels).eval()
    state = {k: v for k, v in hf.state_dict().items() if not k.startswith("roberta.pooler")}
    ours.load_state_dict(state, strict=True)
    ids, mask = padded_batch()
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=mask)
        got = ours(ids, mask)
    expected = out.logits if hasattr(out, "logits") else torch.stack([out.start_logits, out.end_logits], -1)
    assert (got - expected).abs().max() <= 1e-5


def test_hf_config_defaults_match_transformers():
    from xlmr_lit.convert import HF_CONFIG_DEFAULTS, config_from_hf

    hf = transformers.XLMRobertaConfig()
    for name, value in HF_CONFIG_DEFAULTS.items():
        assert getattr(hf, name, value) == value, name
    assert config_from_hf({"hidden_size": 64, "num_attention_heads": 4}).layer_norm_eps == hf.layer_norm_eps
