"""`xlmr-export` of fine-tuned checkpoints: each task head -> its HF class, reloaded offline with AutoModelFor*."""

import dataclasses
import json

import pytest
import torch
from tiny_hf_model import build_tiny_hf_model, randomize, spm_from_sentences  # tests/tiny_hf_model.py
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from xlmr_lit import export
from xlmr_lit.convert import SPM_FILE
from xlmr_lit.model import (
    XLMRConfig,
    XLMRForQuestionAnswering,
    XLMRForSequenceClassification,
    XLMRForTokenClassification,
)
from xlmr_lit.tokenizer import XLMRTokenizer
from xlmr_lit.cli import train

VOCAB = 300
CONFIG = XLMRConfig(
    vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=514,
)
TOL = 1e-5
NLI = ["entailment", "neutral", "contradiction"]
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTENCES = [
    "The museum opens at nine and closes at five in the afternoon.",
    "Le train pour Lyon part du quai numéro trois.",
    "Die Kinder lesen jeden Abend ein Buch.",
    "Студенты изучают историю и литературу.",
    "الطلاب يدرسون في الجامعة كل يوم.",
    "我们在图书馆学习了一个下午。",
    "Wanafunzi wanasoma vitabu shuleni.",
]
TEXTS = ["Die Kinder lesen.", "Студенты изучают историю и литературу в университете.", "我们在图书馆学习。", "Hi"]


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_tasks_spm")
    return spm_from_sentences(root, SENTENCES, VOCAB)


def fine_tuned_run(run_dir, spm_path, model: torch.nn.Module, labels: list[str]):
    """<run_dir>/checkpoints/best.ckpt in the contract format of our fine-tuning modules."""
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "tokenizer").mkdir()
    (run_dir / "tokenizer" / "sentencepiece.bpe.model").write_bytes(spm_path.read_bytes())
    checkpoint = {
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "hyper_parameters": {"model_config": dataclasses.asdict(model.config), "labels": labels,
                             "eval_sets": [("dev", "en")], "metric": "accuracy"},
    }
    torch.save(checkpoint, run_dir / "checkpoints" / "best.ckpt")
    return run_dir / "checkpoints" / "best.ckpt"


def ours_and_theirs(ours, hf, out_dir, spm_path):
    """Our and the reloaded HF model's logits on a padded batch, in our layout, and the attention mask."""
    tokenizer = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    mask = batch["attention_mask"]
    assert not mask.all()  # the batch has padding
    for row, text in enumerate(TEXTS):
        assert batch["input_ids"][row][mask[row].bool()].tolist() == XLMRTokenizer(spm_path).encode(text)
    with torch.no_grad():
        output = hf(**batch)
        theirs = export.hf_logits(output)
        logits = ours(batch["input_ids"], mask)
    return logits, theirs, mask.bool()


CASES = {
    "classification": (XLMRForSequenceClassification, 3, NLI, AutoModelForSequenceClassification),
    "regression": (XLMRForSequenceClassification, 1, [], AutoModelForSequenceClassification),
    "token_classification": (XLMRForTokenClassification, 5, NER_TAGS, AutoModelForTokenClassification),
    "question_answering": (XLMRForQuestionAnswering, 2, [], AutoModelForQuestionAnswering),
}


@pytest.mark.parametrize("case", list(CASES))
def test_task_checkpoint_exports_to_its_hf_class(case, tmp_path, spm_path, capsys):
    model_class, num_labels, labels, auto_class = CASES[case]
    ours = randomize(model_class(CONFIG, num_labels), seed=len(case))
    ckpt = fine_tuned_run(tmp_path / "run", spm_path, ours, labels)
    out_dir = tmp_path / "exported"
    export.main([str(ckpt), str(out_dir)])
    hf_name = export.HF_CLASS[model_class]
    assert f"({hf_name})" in capsys.readouterr().out
    for name in ("config.json", "model.safetensors", SPM_FILE, "tokenizer.json", "tokenizer_config.json"):
        assert (out_dir / name).is_file()
    assert json.loads((out_dir / "config.json").read_text())["architectures"] == [hf_name]

    hf = auto_class.from_pretrained(out_dir, local_files_only=True).eval()
    assert type(hf).__name__ == hf_name
    assert "roberta.pooler.dense.weight" not in hf.state_dict()
    logits, theirs, real = ours_and_theirs(ours, hf, out_dir, spm_path)
    assert logits.shape == theirs.shape
    diff = logits - theirs if logits.dim() == 2 else (logits - theirs)[real]
    assert diff.abs().max() <= TOL

    if case == "regression":
        assert hf.config.num_labels == 1 and hf.config.problem_type == "regression"
    elif case == "question_answering":
        assert hf.config.problem_type is None
    else:
        assert hf.config.id2label == dict(enumerate(labels))
        assert hf.config.label2id == {label: i for i, label in enumerate(labels)}
        assert hf.config.num_labels == num_labels


def test_detect_head_from_weight_names():
    for model_class, num_labels in ((XLMRForSequenceClassification, 3), (XLMRForTokenClassification, 5),
                                    (XLMRForQuestionAnswering, 2)):
        state_dict = model_class(CONFIG, num_labels).state_dict()
        assert export.detect_head(state_dict, "x") is model_class
        assert export.num_labels_of(state_dict, model_class) == num_labels
    encoder_only = {k: v for k, v in XLMRForQuestionAnswering(CONFIG).state_dict().items() if k.startswith("roberta.")}
    with pytest.raises(ValueError, match="expected exactly one head .* found: none"):
        export.detect_head(encoder_only, "x")


def test_label_count_must_match_the_head(tmp_path, spm_path):
    ours = XLMRForTokenClassification(CONFIG, 5)
    ckpt = fine_tuned_run(tmp_path / "run", spm_path, ours, NER_TAGS[:3])
    with pytest.raises(ValueError, match="the run has 3 labels .* but its classifier has 5 outputs"):
        export.export(ckpt, tmp_path / "out")
    ckpt = fine_tuned_run(tmp_path / "regression", spm_path, XLMRForSequenceClassification(CONFIG, 3), [])
    with pytest.raises(ValueError, match="no labels \\(regression\\) but its classifier has 3 outputs"):
        export.export(ckpt, tmp_path / "out2")


def test_fine_tuning_run_exports(make_cfg, tmp_path_factory, tmp_path, capsys):
    tiny = build_tiny_hf_model(tmp_path_factory.mktemp("tiny_xlmr_export"))
    run_dir = tmp_path / "ft"
    train(make_cfg("task=xnli", f"model.init=hf:{tiny}", "task.udhr_standin=true", "task.languages=[en,fr]", "task.epochs=1",
                   "task.batch_size=4", "task.eval_batch_size=32", "+trainer.limit_train_batches=2",
                   "trainer.enable_progress_bar=false", run_dir=run_dir))
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    out_dir = tmp_path / "exported"
    export.main([str(ckpt), str(out_dir)])
    assert "checked: AutoModelForSequenceClassification/AutoTokenizer" in capsys.readouterr().out

    hf = AutoModelForSequenceClassification.from_pretrained(out_dir, local_files_only=True).eval()
    assert hf.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    ours = XLMRForSequenceClassification(XLMRConfig(**checkpoint["hyper_parameters"]["model_config"]), 3)
    ours.load_state_dict({k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()})
    logits, theirs, _ = ours_and_theirs(ours.eval(), hf, out_dir, run_dir / "tokenizer" / "sentencepiece.bpe.model")
    assert (logits - theirs).abs().max() <= TOL
