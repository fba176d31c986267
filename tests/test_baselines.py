"""The paper's baselines through our tasks: tiny random BERT and XLM directories in the hub's layout
(tests/tiny_hf_baselines.py), loaded with AutoModel/AutoTokenizer.from_pretrained as online."""

import json

import pytest
import torch

from tiny_hf_baselines import build_tiny_bert, build_tiny_xlm  # tests/tiny_hf_baselines.py
from xlmr_lit.cli import train
from xlmr_lit.config_checks import ConfigError
from xlmr_lit.convert import load_our_checkpoint
from xlmr_lit.hf_encoder import HFTokenizer, transformers_directory
from xlmr_lit.tasks import ner, qa
from xlmr_lit.tasks.features import featurize_pairs, pad_collate
from xlmr_lit.tasks.readers import Answer, QAExample, SentencePair, TaggedSentence

# two epochs of two batches each: both selections, in seconds
FT = ["task.udhr_standin=true", "task.standin_recipe.epochs=2", "task.standin_recipe.batch_size=8",
      "+trainer.limit_train_batches=2", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def xlm(tmp_path_factory):
    return build_tiny_xlm(tmp_path_factory.mktemp("tiny_xlm"), languages=("en", "fr", "sw", "de", "es", "nl"))


def tokenizer_of(directory):
    from transformers import AutoConfig

    return HFTokenizer(directory, AutoConfig.from_pretrained(directory))


def test_only_other_model_types_take_the_transformers_path(bert, xlm, tmp_path):
    assert transformers_directory(f"hf:{bert}") == bert and transformers_directory(f"hf:{xlm}") == xlm
    (tmp_path / "xlmr").mkdir()
    (tmp_path / "xlmr" / "config.json").write_text(json.dumps({"model_type": "xlm-roberta"}))
    assert transformers_directory(f"hf:{tmp_path / 'xlmr'}") is None  # XLM-R keeps our encoder and tokenizer
    assert transformers_directory("fairseq:/x") is None and transformers_directory("/runs/best.ckpt") is None


def test_without_transformers_a_baseline_init_says_what_to_install(bert, monkeypatch):
    import sys

    from xlmr_lit.hf_encoder import load_transformers_init

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(ImportError, match=r"needs transformers \(pip install 'xlmr-lit\[hf\]'\)"):
        load_transformers_init(f"hf:{bert}")


def test_bert_frames_pairs_with_its_specials_and_gives_the_second_text_token_type_1(bert):
    tokenizer = tokenizer_of(bert)
    hf = tokenizer.hf
    assert tokenizer.specials.prefix == (hf.cls_token_id,) and tokenizer.specials.middle == (hf.sep_token_id,)
    assert tokenizer.specials.pad_id == hf.pad_token_id == 0 and tokenizer.specials.token_types
    examples = [SentencePair("the city of Paris", "Berlin liegt in Deutschland", "neutral", "en"),
                SentencePair("John Smith", None, "entailment", "en")]
    features = featurize_pairs(examples, tokenizer, ["entailment", "neutral", "contradiction"], 128)
    assert features["input_ids"][0] == hf("the city of Paris", "Berlin liegt in Deutschland")["input_ids"]
    assert features["input_ids"][1] == hf("John Smith")["input_ids"]
    assert "langs" not in features  # BERT has no language embeddings
    batch = pad_collate([{k: v[i] for k, v in features.items()} for i in range(2)], tokenizer.specials)
    assert batch["token_type_ids"][0].tolist() == hf("the city of Paris", "Berlin liegt in Deutschland")["token_type_ids"]
    assert batch["token_type_ids"][1].sum() == 0  # one text, then padding
    assert batch["attention_mask"][1].tolist() == [1] * len(features["input_ids"][1]) + [0] * (
        len(features["input_ids"][0]) - len(features["input_ids"][1]))


def test_bert_ner_labels_sit_on_the_first_piece_of_each_word(bert):
    tokenizer = tokenizer_of(bert)
    words = ["Angela", "Merkel", "visited", "Amsterdam", "yesterday"]  # visited, yesterday: several pieces
    tags = ["B-PER", "I-PER", "O", "B-LOC", "O"]
    features = ner.featurize([TaggedSentence(words, tags, "de")], tokenizer, ner.LABELS, 64)
    ids, labels = features["input_ids"][0], features["token_labels"][0]
    assert ids[0] == tokenizer.hf.cls_token_id and ids[-1] == tokenizer.hf.sep_token_id
    position = 1
    for word, tag in zip(words, tags):
        pieces = tokenizer.hf(word, add_special_tokens=False)["input_ids"]
        assert ids[position:position + len(pieces)] == pieces
        assert labels[position:position + len(pieces)] == [ner.LABELS.index(tag)] + [-100] * (len(pieces) - 1)
        position += len(pieces)
    assert position == len(ids) - 1 and max(len(tokenizer.hf(w, add_special_tokens=False)["input_ids"]) for w in words) > 1


@pytest.mark.parametrize("model", ["bert", "xlm"])
def test_qa_spans_map_back_to_the_answer(model, request):
    tokenizer = tokenizer_of(request.getfixturevalue(model))
    context = "The city of Paris is in France and John Smith works for the United Nations in New York."
    answer = Answer("John Smith", context.index("John Smith"))
    example = QAExample("q1", "who works for the United Nations", context, [answer], language="fr")
    features = qa.featurize([example], tokenizer, [], 128)
    start, end = features["start_position"][0], features["end_position"][0]
    assert 0 < start <= end
    assert context[features["char_start"][0][start]:features["char_end"][0][end]] == "John Smith"
    specials = tokenizer.specials
    question = tokenizer.pieces(example.question)
    assert features["input_ids"][0][:len(specials.prefix) + len(question) + len(specials.middle)] == [
        *specials.prefix, *question, *specials.middle]
    # decoding looks for answers in the context only: from after the question's separator to before the last one
    ids = torch.tensor(features["input_ids"])
    logits = torch.zeros(*ids.shape, 2)
    top = qa.top_context_positions(logits, ids, torch.ones_like(ids), n_best=ids.shape[1], specials=specials)
    finite = top[0][top[1] > float("-inf")]
    context_positions = [i for i, c in enumerate(features["char_start"][0]) if c != qa.NO_CHAR]
    assert sorted(finite.tolist()) == context_positions


def test_xlm_gets_each_examples_language_id(xlm):
    tokenizer = tokenizer_of(xlm)
    lang2id = tokenizer.lang2id
    assert lang2id == {"en": 0, "fr": 1, "sw": 2, "de": 3, "es": 4, "nl": 5}
    assert tokenizer.specials.prefix == (0,) and tokenizer.specials.middle == (1,) and not tokenizer.specials.token_types
    pairs = [SentencePair("the city", "la ville", "neutral", lang) for lang in ("fr", "en", "sw", "fr")]
    features = featurize_pairs(pairs, tokenizer, ["entailment", "neutral", "contradiction"], 64)
    assert features["langs"] == [1, 0, 2, 1]
    batch = pad_collate([{k: v[i] for k, v in features.items()} for i in range(4)], tokenizer.specials)
    assert batch["langs"].shape == batch["input_ids"].shape
    assert batch["langs"].tolist() == [[lang] * batch["input_ids"].shape[1] for lang in (1, 0, 2, 1)]
    sentences = [TaggedSentence(["John", "Smith"], ["B-PER", "I-PER"], lang) for lang in ("nl", "es")]
    ner_features = ner.featurize(sentences, tokenizer, ner.LABELS, 64)
    assert ner_features["langs"] == [5, 4]
    example = QAExample("q", "who", "John Smith works", [Answer("John", 0)], language="de")
    assert set(qa.featurize([example], tokenizer, [], 64)["langs"]) == {3}
    with pytest.raises(ValueError, match="language embeddings for en fr sw de es nl, not for 'zh'"):
        featurize_pairs([SentencePair("a", "b", "neutral", "zh")], tokenizer, ["neutral"], 64)


def test_xlm_language_ids_change_what_the_encoder_computes(xlm):
    from xlmr_lit.hf_encoder import HFEncoderForSequenceClassification, config_dict, load_transformers_encoder

    config, state_dict, _ = load_transformers_encoder(xlm)
    model = HFEncoderForSequenceClassification(config_dict(config), 3).eval()
    model.load_state_dict(state_dict, strict=False)
    ids = torch.tensor([[0, 20, 21, 1]])
    mask = torch.ones_like(ids)
    en, fr = (model(ids, mask, langs=torch.full_like(ids, lang)) for lang in (0, 1))
    assert not torch.allclose(en, fr)


def test_xlm_without_language_embeddings_gets_no_language_ids(tmp_path):
    tokenizer = tokenizer_of(build_tiny_xlm(tmp_path / "xlm100", use_lang_emb=False))
    assert tokenizer.lang2id is None  # XLM-100 and XLM-17 were pretrained without them
    assert "langs" not in featurize_pairs([SentencePair("a", "b", "neutral", "zh")], tokenizer, ["neutral"], 64)


def run(make_cfg, tmp_path, task: str, init, *overrides: str) -> list[dict]:
    return train(make_cfg(f"task={task}", f"model.init=hf:{init}", *FT, *overrides, run_dir=tmp_path / task))


def test_bert_fine_tunes_xnli_and_glue_and_the_rows_name_it(make_cfg, bert, tmp_path):
    rows = run(make_cfg, tmp_path, "xnli", bert, "task.languages=[en,fr,sw]")
    assert {(r["selection"], r["split"], r["language"]) for r in rows} == {
        (sel, split, lang) for sel in ("single", "per_language") for split in ("dev", "test") for lang in ("en", "fr", "sw")}
    assert all(r["init"] == f"hf:{bert}" and r["encoder"] == "bert" for r in rows)
    written = [json.loads(line) for line in open(tmp_path / "xnli" / "results.jsonl")]
    assert written == rows
    kept = tokenizer_of(bert).hf.__class__.from_pretrained(tmp_path / "xnli" / "tokenizer")  # the run keeps its tokenizer
    assert kept("Angela visited Paris")["input_ids"] == tokenizer_of(bert).hf("Angela visited Paris")["input_ids"]

    # the fine-tuned baseline scored as it is: its best epoch's dev scores again, from checkpoint and run tokenizer
    best = tmp_path / "xnli" / "checkpoints" / "best.ckpt"
    scored = train(make_cfg("task=xnli", f"model.init={best}", "task.train=false", "task.udhr_standin=true",
                            "task.languages=[en,fr,sw]", "trainer.enable_progress_bar=false", run_dir=tmp_path / "scored"))
    dev = {r["language"]: r["value"] for r in rows if (r["selection"], r["split"]) == ("single", "dev")}
    assert {r["language"]: r["value"] for r in scored if r["split"] == "dev"} == pytest.approx(dev)
    assert all(r["encoder"] == "bert" and not r["trained"] for r in scored)
    with pytest.raises(ValueError, match="a fine-tuned bert encoder .* export does not"):
        load_our_checkpoint(best)  # what xlmr-export reads: XLM-R only

    glue_rows = run(make_cfg, tmp_path, "glue", bert, "task.glue_task=stsb", "+trainer.limit_val_batches=2")  # regression
    assert {r["metric"] for r in glue_rows} == {"pearson", "spearman"} and {r["encoder"] for r in glue_rows} == {"bert"}


def test_xlm_fine_tunes_ner_and_qa(make_cfg, xlm, tmp_path):
    fast = "+trainer.limit_val_batches=2"  # scores of the first batches: this test is about the path, not the numbers
    ner_rows = run(make_cfg, tmp_path, "ner", xlm, "task.languages=[en,nl]", "task.setting=train_all", fast)
    assert {r["language"] for r in ner_rows} == {"en", "nl"} and {r["metric"] for r in ner_rows} >= {"f1"}
    qa_rows = run(make_cfg, tmp_path, "qa", xlm, "task.languages=[de]", fast)
    assert {r["language"] for r in qa_rows} == {"de"} and {"f1", "exact_match"} <= {r["metric"] for r in qa_rows}
    assert all(r["encoder"] == "xlm" for r in ner_rows + qa_rows)


def test_a_language_without_an_embedding_is_refused_before_training(make_cfg, xlm, tmp_path):
    with pytest.raises(ConfigError, match="has language embeddings for en fr sw de es nl, not for ar"):
        run(make_cfg, tmp_path, "qa", xlm, "task.languages=[en,ar]")


def test_a_tables_baseline_row_from_downstream_init(make_cfg, bert, tmp_path):
    """Table 2's point `each_de` with downstream.init=hf:<mBERT>: fine-tuned without pretraining, rows naming it."""
    rows = train(make_cfg("+task@downstream=ner", f"+downstream.init=hf:{bert}", "downstream.udhr_standin=true",
                          "downstream.languages=[en,de]", "downstream.setting=train_each", "downstream.train_language=de",
                          "downstream.standin_recipe.epochs=2", "+trainer.limit_train_batches=2",
                          "trainer.enable_progress_bar=false", run_dir=tmp_path / "point"))
    assert {(r["split"], r["language"]) for r in rows} == {("dev", "de"), ("test", "de")}
    assert all(r["task"] == "ner" and r["encoder"] == "bert" and r["init"] == f"hf:{bert}" for r in rows)
    assert (tmp_path / "point" / "finetune" / "results.jsonl").is_file()
    assert not (tmp_path / "point" / "checkpoints").exists()  # nothing was pretrained


def test_each_encoders_table_sweep_has_its_own_folder():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from xlmr_lit.cli import CONF_DIR

    dirs = {}
    for init in ("hf:google-bert/bert-base-multilingual-cased", "hf:/models/xlm-roberta-base/", None):
        overrides = ["experiment=tables/table1_xnli", "scale=paper", *([f"downstream.init={init}"] if init else [])]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
        dirs[init] = OmegaConf.select(cfg, "hydra.sweep.dir")
    assert dirs == {"hf:google-bert/bert-base-multilingual-cased": "multirun/table1_xnli/paper/bert-base-multilingual-cased",
                    "hf:/models/xlm-roberta-base/": "multirun/table1_xnli/paper/xlm-roberta-base",
                    None: "multirun/table1_xnli/paper"}


@pytest.mark.slow  # 5 s; the same resume machinery as XLM-R's (test_faults.py), so CI's slow run is enough
def test_a_baseline_resumed_inside_an_epoch_repeats_the_uninterrupted_losses(make_cfg, bert, tmp_path):
    from test_faults import assert_two_epoch_finetuning_resumes_inside_its_second_epoch_exactly

    ft = ["task=xnli", f"model.init=hf:{bert}", "task.udhr_standin=true", "task.languages=[en]",
          "task.standin_recipe.epochs=2", "task.max_train_examples=48", "+trainer.limit_val_batches=1",
          "trainer.enable_progress_bar=false"]
    assert_two_epoch_finetuning_resumes_inside_its_second_epoch_exactly(make_cfg, ft, tmp_path)
