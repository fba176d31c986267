"""HF <-> ours <-> fairseq weight conversion and `xlmr-export`, on tiny random models, offline."""

import argparse
import dataclasses
import logging
import shutil

import pytest
import torch
from tiny_hf_model import randomize, spm_from_sentences
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    XLMRobertaForQuestionAnswering,
    XLMRobertaForSequenceClassification,
    XLMRobertaForTokenClassification,
    XLMRobertaModel,
)

from xlmr_lit import export
from xlmr_lit.convert import (
    config_from_hf,
    config_to_hf,
    fairseq_to_ours,
    hf_to_ours,
    load_pretrained,
    load_state_dict_checked,
    ours_to_hf,
)
from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM
from xlmr_lit.tokenizer import XLMRTokenizer

VOCAB = 300
CONFIG = XLMRConfig(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=514,  # as the real models: 512 + padding_idx + 1
)
TOL = 1e-5

SENTENCES = [
    "The museum opens at nine and closes at five in the afternoon.",
    "Le train pour Lyon part du quai numéro trois.",
    "Die Kinder lesen jeden Abend ein Buch.",
    "Студенты изучают историю и литературу.",
    "الطلاب يدرسون في الجامعة كل يوم.",
    "یہ شہر اپنی تاریخی عمارتوں کے لیے مشہور ہے۔",
    "我们在图书馆学习了一个下午。",
    "वह हर दिन सुबह योग करती है।",
    "Wanafunzi wanasoma vitabu shuleni.",
    "Η θάλασσα είναι ήρεμη σήμερα.",
]


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("convert_spm")
    return spm_from_sentences(root, SENTENCES, VOCAB)


def hf_config(**overrides) -> XLMRobertaConfig:
    return XLMRobertaConfig(**{**config_to_hf(CONFIG), **overrides})


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    lengths = [12, 7, 3]
    input_ids = torch.full((len(lengths), max(lengths)), 1)  # <pad>
    for row, n in enumerate(lengths):
        input_ids[row, :n] = torch.randint(4, VOCAB, (n,), generator=generator)
        input_ids[row, 0], input_ids[row, n - 1] = 0, 2
    return input_ids, input_ids.ne(1).long()


def assert_same_outputs(ours: XLMRForMaskedLM, hf: XLMRobertaForMaskedLM) -> None:
    input_ids, attention_mask = padded_batch()
    real = attention_mask.bool()
    with torch.no_grad():
        hf_out = hf(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        logits, _ = ours(input_ids, attention_mask)
        hidden = ours.roberta(input_ids, attention_mask)
    assert (logits - hf_out.logits)[real].abs().max() <= TOL
    assert (hidden - hf_out.hidden_states[-1])[real].abs().max() <= TOL


def assert_state_dicts_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ----------------------------------------------------------------------------------------------
# configs


def test_config_round_trip():
    assert config_from_hf(config_to_hf(CONFIG)) == CONFIG
    hf = XLMRobertaConfig(**config_to_hf(CONFIG))
    assert (hf.model_type, hf.bos_token_id, hf.pad_token_id, hf.eos_token_id) == ("xlm-roberta", 0, 1, 2)
    assert config_from_hf(hf.to_dict()) == CONFIG


def test_config_from_hf_uses_hf_defaults_and_rejects_other_architectures():
    # HF's own defaults apply to absent fields (layer_norm_eps 1e-12, type_vocab_size 2)
    minimal = {"model_type": "xlm-roberta", "vocab_size": VOCAB, "hidden_size": 32, "num_attention_heads": 4}
    config = config_from_hf(minimal)
    assert (config.layer_norm_eps, config.type_vocab_size) == (1e-12, 2)
    with pytest.raises(ValueError, match="model_type"):
        config_from_hf({**config_to_hf(CONFIG), "model_type": "bert"})
    with pytest.raises(ValueError, match="hidden_act"):
        config_from_hf({**config_to_hf(CONFIG), "hidden_act": "relu"})


# ----------------------------------------------------------------------------------------------
# HF <-> ours


def test_hf_to_ours_same_logits_and_hidden_states():
    hf = randomize(XLMRobertaForMaskedLM(hf_config()), seed=0)
    ours = XLMRForMaskedLM(config_from_hf(hf.config.to_dict())).eval()
    load_state_dict_checked(ours, hf_to_ours(hf.state_dict()), "hf")
    assert_same_outputs(ours, hf)


def test_ours_to_hf_same_logits_and_hidden_states():
    ours = randomize(XLMRForMaskedLM(CONFIG), seed=1)
    hf = XLMRobertaForMaskedLM(XLMRobertaConfig(**config_to_hf(ours.config))).eval()
    hf_state = ours_to_hf(ours.state_dict())
    assert sorted(hf_state) == sorted(hf.state_dict())
    hf.load_state_dict(hf_state, strict=True)
    assert_same_outputs(ours, hf)


def test_ours_to_hf_to_ours_is_exact(tmp_path, spm_path):
    ours = randomize(XLMRForMaskedLM(CONFIG), seed=2)
    original = ours.state_dict()
    hf = XLMRobertaForMaskedLM(XLMRobertaConfig(**config_to_hf(CONFIG)))
    hf.load_state_dict(ours_to_hf(original), strict=True)
    assert_state_dicts_equal(hf_to_ours(hf.state_dict()), original)
    # and through an HF directory on disk (transformers 5 drops the tied decoder from the file)
    hf.save_pretrained(tmp_path)
    shutil.copyfile(spm_path, tmp_path / "sentencepiece.bpe.model")
    config, state_dict, spm_file = load_pretrained(f"hf:{tmp_path}")
    assert config == CONFIG and spm_file == tmp_path / "sentencepiece.bpe.model"
    assert_state_dicts_equal(state_dict, original)


def test_load_pretrained_hf_dir_with_pytorch_model_bin(tmp_path, spm_path):
    hf = randomize(XLMRobertaForMaskedLM(hf_config()), seed=3)
    hf.config.to_json_file(tmp_path / "config.json")
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")  # old layout, with every alias
    shutil.copyfile(spm_path, tmp_path / "sentencepiece.bpe.model")
    config, state_dict, _ = load_pretrained(f"hf:{tmp_path}")
    ours = XLMRForMaskedLM(config).eval()
    load_state_dict_checked(ours, state_dict, "bin")
    assert_same_outputs(ours, hf)


def test_bare_encoder_dir_keeps_our_head_and_says_so(tmp_path, spm_path, caplog):
    hf = randomize(XLMRobertaModel(hf_config(architectures=["XLMRobertaModel"])), seed=4)
    hf.save_pretrained(tmp_path)
    shutil.copyfile(spm_path, tmp_path / "sentencepiece.bpe.model")
    config, state_dict, _ = load_pretrained(f"hf:{tmp_path}")
    assert any(k.startswith("roberta.pooler.") for k in state_dict)
    ours = XLMRForMaskedLM(config).eval()
    head_before = ours.lm_head.dense.weight.clone()
    with caplog.at_level(logging.WARNING, logger="xlmr_lit.convert"):
        load_state_dict_checked(ours, state_dict, str(tmp_path))
    assert "lm_head.dense.weight" in caplog.text and "random" in caplog.text
    assert "roberta.pooler.dense.weight" in caplog.text
    assert torch.equal(ours.lm_head.dense.weight, head_before)
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        expected = hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = ours.roberta(input_ids, attention_mask)
    assert (hidden - expected)[attention_mask.bool()].abs().max() <= TOL


@pytest.mark.parametrize(
    "head_class, head_keys",
    [
        (XLMRobertaForSequenceClassification, {"classifier.dense.weight", "classifier.out_proj.bias"}),
        (XLMRobertaForTokenClassification, {"classifier.weight", "classifier.bias"}),
        (XLMRobertaForQuestionAnswering, {"qa_outputs.weight", "qa_outputs.bias"}),
    ],
)
def test_task_heads_keep_hf_names(head_class, head_keys):
    hf_state = head_class(hf_config(num_labels=3)).state_dict()
    ours = hf_to_ours(hf_state)
    assert head_keys <= ours.keys()
    assert_state_dicts_equal(ours_to_hf(ours), hf_state)


# ----------------------------------------------------------------------------------------------
# fairseq -> ours


FAIRSEQ_LAYER = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.output.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
    "final_layer_norm": "output.LayerNorm",
}


def fairseq_layout(hf_state: dict, prefix: str, fused_qkv: bool = False) -> dict:
    """The state dict of a fairseq XLM-R model.pt (RobertaModel) with the weights of an HF model."""
    enc = f"{prefix}.sentence_encoder"
    state = {
        f"{prefix}.version": torch.tensor([2.0]),
        f"{enc}.version": torch.tensor([2.0]),
        f"{enc}.embed_tokens.weight": hf_state["roberta.embeddings.word_embeddings.weight"],
        f"{enc}.embed_positions.weight": hf_state["roberta.embeddings.position_embeddings.weight"],
        f"{enc}.emb_layer_norm.weight": hf_state["roberta.embeddings.LayerNorm.weight"],
        f"{enc}.emb_layer_norm.bias": hf_state["roberta.embeddings.LayerNorm.bias"],
    }
    for i in range(CONFIG.num_hidden_layers):
        for fairseq_name, hf_name in FAIRSEQ_LAYER.items():
            for kind in ("weight", "bias"):
                state[f"{enc}.layers.{i}.{fairseq_name}.{kind}"] = hf_state[
                    f"roberta.encoder.layer.{i}.{hf_name}.{kind}"
                ]
        if fused_qkv:  # fairseq before 0.9 stored one in_proj matrix
            for kind in ("weight", "bias"):
                parts = [state.pop(f"{enc}.layers.{i}.self_attn.{p}_proj.{kind}") for p in "qkv"]
                state[f"{enc}.layers.{i}.self_attn.in_proj_{kind}"] = torch.cat(parts)
    for name in ("dense.weight", "dense.bias", "layer_norm.weight", "layer_norm.bias", "bias"):
        state[f"{prefix}.lm_head.{name}"] = hf_state[f"lm_head.{name}"]
    state[f"{prefix}.lm_head.weight"] = hf_state["roberta.embeddings.word_embeddings.weight"]
    return state


FAIRSEQ_ARGS = dict(
    arch="roberta_base",
    encoder_layers=CONFIG.num_hidden_layers,
    encoder_embed_dim=CONFIG.hidden_size,
    encoder_ffn_embed_dim=CONFIG.intermediate_size,
    encoder_attention_heads=CONFIG.num_attention_heads,
    max_positions=512,
    dropout=0.1,
    attention_dropout=0.1,
    activation_fn="gelu",
    encoder_normalize_before=False,
)


def fairseq_release(directory, spm_path, state: dict, legacy_args: bool = True):
    """model.pt ({'model', 'args'} as the 2019 release, or {'model', 'cfg'}), dict.txt, sentencepiece.bpe.model."""
    directory.mkdir(parents=True, exist_ok=True)
    if legacy_args:
        checkpoint = {"model": state, "args": argparse.Namespace(**FAIRSEQ_ARGS)}
    else:
        checkpoint = {
            "model": state,
            "args": None,
            "cfg": {"model": dict(FAIRSEQ_ARGS), "task": {"_name": "masked_lm"}},
        }
    torch.save(checkpoint, directory / "model.pt")
    shutil.copyfile(spm_path, directory / "sentencepiece.bpe.model")
    tokenizer = XLMRTokenizer(spm_path)
    pieces = [tokenizer.sp.id_to_piece(i) for i in range(3, len(tokenizer.sp))]
    (directory / "dict.txt").write_text("".join(f"{p} {1000 - i}\n" for i, p in enumerate(pieces)), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    "prefix, legacy_args, fused_qkv",
    [("decoder", True, False), ("encoder", False, False), ("decoder", True, True)],
)
def test_fairseq_release_imports_with_same_outputs(tmp_path, spm_path, prefix, legacy_args, fused_qkv):
    hf = XLMRobertaForMaskedLM(hf_config())
    randomize(hf, seed=5)
    with torch.no_grad():  # fairseq has no token types: the reference must not use one either
        hf.roberta.embeddings.token_type_embeddings.weight.zero_()
    state = fairseq_layout(hf.state_dict(), prefix, fused_qkv)
    assert state[f"{prefix}.sentence_encoder.embed_positions.weight"].shape[0] == 514
    release = fairseq_release(tmp_path / "xlmr.tiny", spm_path, state, legacy_args)

    config, state_dict, spm_file = load_pretrained(f"fairseq:{release}")
    assert config == CONFIG and spm_file == release / "sentencepiece.bpe.model"
    assert torch.equal(state_dict["roberta.embeddings.token_type_embeddings.weight"], torch.zeros(1, 32))
    ours = XLMRForMaskedLM(config).eval()
    load_state_dict_checked(ours, state_dict, str(release), allow_missing=(), allow_unexpected=())
    assert_same_outputs(ours, hf)


def test_fairseq_to_ours_reports_unknown_keys():
    hf_state = XLMRobertaForMaskedLM(hf_config()).state_dict()
    state = fairseq_layout(hf_state, "encoder")
    state["encoder.classification_heads.mnli.dense.weight"] = torch.zeros(32, 32)
    ours = XLMRForMaskedLM(CONFIG)
    with pytest.raises(ValueError, match=r"unexpected keys \(1\):\n  encoder.classification_heads.mnli.dense.weight"):
        load_state_dict_checked(ours, fairseq_to_ours(state), "model.pt")


def test_fairseq_dict_must_follow_the_sentencepiece_order(tmp_path, spm_path):
    state = fairseq_layout(XLMRobertaForMaskedLM(hf_config()).state_dict(), "decoder")
    release = fairseq_release(tmp_path / "rel", spm_path, state)
    lines = (release / "dict.txt").read_text(encoding="utf-8").splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    (release / "dict.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 6"):
        load_pretrained(f"fairseq:{release}")


def test_fairseq_pre_ln_is_refused(tmp_path, spm_path):
    state = fairseq_layout(XLMRobertaForMaskedLM(hf_config()).state_dict(), "encoder")
    release = tmp_path / "rel"
    fairseq_release(release, spm_path, state)
    torch.save(
        {"model": state, "args": argparse.Namespace(**{**FAIRSEQ_ARGS, "encoder_normalize_before": True})},
        release / "model.pt",
    )
    with pytest.raises(ValueError, match="pre-LN"):
        load_pretrained(f"fairseq:{release}")


# ----------------------------------------------------------------------------------------------
# safety and errors


def test_shape_mismatch_names_parameter_and_both_shapes():
    state = XLMRForMaskedLM(CONFIG).state_dict()
    state["roberta.encoder.layer.1.intermediate.dense.weight"] = torch.zeros(48, 32)
    with pytest.raises(ValueError) as err:
        load_state_dict_checked(XLMRForMaskedLM(CONFIG), state, "ckpt.pt")
    message = str(err.value)
    assert "ckpt.pt" in message
    assert "roberta.encoder.layer.1.intermediate.dense.weight: checkpoint (48, 32) vs model (64, 32)" in message


def test_missing_and_unexpected_keys_are_listed():
    state = XLMRForMaskedLM(CONFIG).state_dict()
    del state["roberta.encoder.layer.0.output.LayerNorm.bias"]
    state["roberta.encoder.layer.7.output.dense.weight"] = torch.zeros(32, 64)
    with pytest.raises(ValueError) as err:
        load_state_dict_checked(XLMRForMaskedLM(CONFIG), state, "ckpt.pt")
    message = str(err.value)
    assert "missing keys (1):\n  roberta.encoder.layer.0.output.LayerNorm.bias" in message
    assert "unexpected keys (1):\n  roberta.encoder.layer.7.output.dense.weight" in message


def test_strict_load_refuses_a_missing_head():
    state = {k: v for k, v in XLMRForMaskedLM(CONFIG).state_dict().items() if not k.startswith("lm_head.")}
    with pytest.raises(ValueError, match="lm_head.dense.weight"):
        load_state_dict_checked(XLMRForMaskedLM(CONFIG), state, "ckpt", allow_missing=())


def test_tied_weights_must_agree():
    state = XLMRForMaskedLM(CONFIG).state_dict()
    state["lm_head.decoder.weight"] = state["lm_head.decoder.weight"] + 1
    with pytest.raises(ValueError, match="tied"):
        load_state_dict_checked(XLMRForMaskedLM(CONFIG), state, "ckpt")


def test_load_pretrained_errors_name_what_is_missing(tmp_path, spm_path, monkeypatch):
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub must not be contacted for a local path")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    with pytest.raises(ValueError, match="hf:<dir or hub id>"):
        load_pretrained("torch:/some/dir")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(f"hf:{tmp_path / 'no' / 'such' / 'dir'}")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(f"fairseq:{tmp_path / 'nothing'}")
    hf_dir = tmp_path / "hf"
    XLMRobertaForMaskedLM(hf_config()).save_pretrained(hf_dir)
    with pytest.raises(FileNotFoundError, match="sentencepiece.bpe.model is missing"):
        load_pretrained(f"hf:{hf_dir}")
    shutil.copyfile(spm_path, hf_dir / "sentencepiece.bpe.model")
    (hf_dir / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_pretrained(f"hf:{hf_dir}")
    release = tmp_path / "fairseq"
    release.mkdir()
    shutil.copyfile(spm_path, release / "sentencepiece.bpe.model")
    with pytest.raises(FileNotFoundError, match="model.pt is missing"):
        load_pretrained(f"fairseq:{release}")


def test_vocab_must_match_the_sentencepiece_model(tmp_path, spm_path):
    XLMRobertaForMaskedLM(hf_config(vocab_size=VOCAB + 8)).save_pretrained(tmp_path)
    shutil.copyfile(spm_path, tmp_path / "sentencepiece.bpe.model")
    with pytest.raises(ValueError, match=f"{VOCAB - 2} pieces"):
        load_pretrained(f"hf:{tmp_path}")


def test_hub_ids_go_through_snapshot_download(tmp_path, spm_path, monkeypatch):
    import huggingface_hub

    hf = randomize(XLMRobertaForMaskedLM(hf_config()), seed=6)
    hf.save_pretrained(tmp_path)
    shutil.copyfile(spm_path, tmp_path / "sentencepiece.bpe.model")
    requested = []

    def fake_snapshot_download(repo_id, **kwargs):
        requested.append(repo_id)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    config, state_dict, _ = load_pretrained("hf:FacebookAI/xlm-roberta-tiny-test")
    assert requested == ["FacebookAI/xlm-roberta-tiny-test"] and config == CONFIG


def test_hub_id_resolves_through_the_hub_cache(tmp_path, spm_path, monkeypatch):
    """FacebookAI/xlm-roberta-base as huggingface_hub caches it (refs/main -> snapshots/<commit>/), read offline."""
    import huggingface_hub

    commit = "e73636d4f797dec63c3081bb6ed5c7b0bb3f2089"
    repo = tmp_path / "models--FacebookAI--xlm-roberta-base"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    randomize(XLMRobertaForMaskedLM(hf_config()), seed=7).save_pretrained(snapshot)
    shutil.copyfile(spm_path, snapshot / "sentencepiece.bpe.model")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    config, state_dict, spm_file = load_pretrained("hf:FacebookAI/xlm-roberta-base")
    assert config == CONFIG and spm_file == snapshot / "sentencepiece.bpe.model"
    with pytest.raises(FileNotFoundError, match="hf:xlm-roberta-base: not a local directory"):
        load_pretrained("hf:xlm-roberta-base")  # the cache keeps repositories under their full id


# ----------------------------------------------------------------------------------------------
# xlmr-export


def lightning_run(run_dir, spm_path, model: XLMRForMaskedLM, recorded_tokenizer=None):
    """A run directory with a checkpoint in the contract format of our LightningModule."""
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "tokenizer").mkdir()
    shutil.copyfile(spm_path, run_dir / "tokenizer" / "sentencepiece.bpe.model")
    checkpoint = {
        "epoch": 0,
        "global_step": 10,
        "pytorch-lightning_version": "2.6.0",
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "hyper_parameters": {
            "model_config": dataclasses.asdict(model.config),
            "tokenizer_path": str(recorded_tokenizer or run_dir / "tokenizer" / "sentencepiece.bpe.model"),
        },
    }
    torch.save(checkpoint, run_dir / "checkpoints" / "last.ckpt")
    return run_dir / "checkpoints" / "last.ckpt"


def test_export_loads_with_auto_classes_offline(tmp_path, spm_path, capsys):
    ours = randomize(XLMRForMaskedLM(CONFIG), seed=7)
    ckpt = lightning_run(tmp_path / "run", spm_path, ours)
    out_dir = tmp_path / "exported"
    export.main([str(ckpt), str(out_dir)])
    printed = capsys.readouterr().out
    for name in (
        "config.json",
        "model.safetensors",
        "sentencepiece.bpe.model",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (out_dir / name).is_file() and name in printed

    hf = AutoModelForMaskedLM.from_pretrained(out_dir, local_files_only=True).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    assert type(hf).__name__ == "XLMRobertaForMaskedLM" and len(hf_tokenizer) == VOCAB
    ours_tokenizer = XLMRTokenizer(spm_path)
    texts = [
        "Студенты изучают историю.",
        "我们在图书馆学习。",
        "یہ شہر مشہور ہے۔",
        "Wanafunzi wanasoma vitabu shuleni leo.",
    ]
    batch = hf_tokenizer(texts, padding=True, return_tensors="pt")
    for row, text in enumerate(texts):
        ids = ours_tokenizer.encode(text)
        assert batch["input_ids"][row, : len(ids)].tolist() == ids
    with torch.no_grad():
        hf_logits = hf(**batch).logits
        logits, _ = ours(batch["input_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()
    assert (hf_logits - logits)[real].abs().max() <= TOL
    assert hf_tokenizer.model_max_length == 512

    # and back: the exported directory is a valid model.init=hf:<dir>, reproducing our weights exactly
    config, state_dict, _ = load_pretrained(f"hf:{out_dir}")
    assert config == CONFIG
    assert_state_dicts_equal(state_dict, ours.state_dict())


def test_export_finds_the_run_tokenizer_when_the_recorded_path_is_stale(tmp_path, spm_path):
    ours = XLMRForMaskedLM(CONFIG)
    ckpt = lightning_run(tmp_path / "moved_run", spm_path, ours, recorded_tokenizer=tmp_path / "gone" / "spm.model")
    written = export.export(ckpt, tmp_path / "out")
    assert tmp_path / "out" / "sentencepiece.bpe.model" in written


def test_export_refuses_checkpoints_that_do_not_fit(tmp_path, spm_path):
    ours = XLMRForMaskedLM(CONFIG)
    ckpt = lightning_run(tmp_path / "run", spm_path, ours)
    checkpoint = torch.load(ckpt, weights_only=True)
    del checkpoint["state_dict"]["model.lm_head.dense.weight"]
    torch.save(checkpoint, ckpt)
    with pytest.raises(SystemExit, match="missing keys"):
        export.main([str(ckpt), str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="nope.ckpt does not exist"):
        export.main([str(tmp_path / "nope.ckpt"), str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_export_drops_non_model_entries_loudly(tmp_path, spm_path, caplog):
    # e.g. a LightningModule that also registers the model under a second attribute
    ours = randomize(XLMRForMaskedLM(CONFIG), seed=8)
    ckpt = lightning_run(tmp_path / "run", spm_path, ours)
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["state_dict"]["forward_fn.lm_head.bias"] = ours.lm_head.bias.detach().clone()
    torch.save(checkpoint, ckpt)
    with caplog.at_level(logging.WARNING, logger="xlmr_lit.convert"):
        export.export(ckpt, tmp_path / "out")
    assert "forward_fn.* (1 tensors)" in caplog.text


def test_our_checkpoint_is_a_valid_init(tmp_path, spm_path):
    ours = randomize(XLMRForMaskedLM(CONFIG), seed=9)
    ckpt = lightning_run(tmp_path / "run", spm_path, ours)
    config, state_dict, spm_file = load_pretrained(str(ckpt))
    assert config == CONFIG and spm_file == tmp_path / "run" / "tokenizer" / "sentencepiece.bpe.model"
    assert_state_dicts_equal(state_dict, ours.state_dict())
