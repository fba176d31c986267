"""task=qa: SQuAD/MLQA/XQuAD reading, question + context windows, span decoding, and end-to-end runs."""

import json
import random

import pytest
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import Callback
from tiny_hf_model import WORDS, build_tiny_hf_model

from xlmr_lit.tasks import qa
from xlmr_lit.tasks.features import pad_collate
from xlmr_lit.tasks.readers import Answer, QAExample
from xlmr_lit.tokenizer import BOS_ID, XLMRTokenizer
from xlmr_lit.tokenizer_offsets import pieces_with_offsets
from xlmr_lit.cli import CONF_DIR, train

# (fact sentence, question, answer) per language; the answer is a substring of the sentence
FACTS = {
    "en": [("Paris is the capital of France.", "What is the capital of France?", "Paris"),
           ("John Smith works for the United Nations.", "Who works for the United Nations?", "John Smith"),
           ("The museum opens at nine in New York.", "Where does the museum open?", "New York")],
    "de": [("Berlin ist die Hauptstadt von Deutschland.", "Was ist die Hauptstadt von Deutschland?", "Berlin"),
           ("Angela Merkel arbeitet für die Stadt München.", "Für welche Stadt arbeitet Angela Merkel?", "München")],
    "es": [("Madrid es la capital de España.", "¿Cuál es la capital de España?", "Madrid"),
           ("Pedro García trabaja para Telefónica en Sevilla.", "¿Para quién trabaja Pedro García?", "Telefónica")],
    "zh": [("北京是中国的首都。", "中国的首都是哪里？", "北京"),
           ("李明在清华大学工作。", "李明在哪里工作？", "清华大学")],
}


def filler(lang: str, rng: random.Random, words: int) -> str:
    vocabulary = WORDS[lang]
    return ("" if lang == "zh" else " ").join(rng.choices(vocabulary, k=words)) + ("。" if lang == "zh" else ".")


def squad_document(lang: str, paragraphs: int, seed: int) -> dict:
    """SQuAD v1.1 JSON: each paragraph has every fact of `lang` among filler sentences."""
    rng = random.Random(seed)
    separator = "" if lang == "zh" else " "
    data = []
    for p in range(paragraphs):
        sentences = [filler(lang, rng, rng.randint(5, 15)) for _ in range(4)] + [fact for fact, _, _ in FACTS[lang]]
        rng.shuffle(sentences)
        context = separator.join(sentences)
        qas = []
        for q, (fact, question, answer) in enumerate(FACTS[lang]):
            start = context.index(fact) + fact.index(answer)
            qas.append({"id": f"{lang}-{seed}-{p}-{q}", "question": question,
                        "answers": [{"text": answer, "answer_start": start}]})
        data.append({"title": f"{lang} {p}", "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "1.1", "data": data}


def write_json(path, document: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def qa_data(tmp_path_factory):
    """SQuAD train/dev, MLQA dev/test and XQuAD files under their default names (conf/task/qa.yaml)."""
    root = tmp_path_factory.mktemp("qa_data")
    write_json(root / "squad" / "train-v1.1.json", squad_document("en", 8, seed=1))
    write_json(root / "squad" / "dev-v1.1.json", squad_document("en", 2, seed=2))
    for i, lang in enumerate(FACTS):
        for split in ("dev", "test"):
            write_json(root / "MLQA_V1" / split / f"{split}-context-{lang}-question-{lang}.json",
                       squad_document(lang, 2, seed=10 + 2 * i + (split == "test")))
        write_json(root / "xquad" / f"xquad.{lang}.json", squad_document(lang, 2, seed=20 + i))
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    facts = [f"{fact} {question}" for lang_facts in FACTS.values() for fact, question, _ in lang_facts]
    return build_tiny_hf_model(tmp_path_factory.mktemp("tiny_hf_qa"), extra_text=facts * 5)


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return XLMRTokenizer(tiny_model / "sentencepiece.bpe.model")


def task_cfg(**overrides):
    return OmegaConf.merge(OmegaConf.load(CONF_DIR / "task" / "qa.yaml"), overrides)


# --------------------------------------------------------------------------------------------
# reading


def test_mlqa_and_xquad_sets(qa_data):
    mlqa = qa.load_splits(task_cfg(data_dir=str(qa_data)), ["en", "zh"], 0)
    assert set(mlqa.evals) == {("dev", "en"), ("test", "en"), ("dev", "zh"), ("test", "zh")}
    assert len(mlqa.train) == 8 * 3 and mlqa.metric == "f1" and mlqa.labels == []
    zh = mlqa.evals[("dev", "zh")][0]
    assert zh.context[zh.answers[0].start:].startswith(zh.answers[0].text)
    xquad = qa.load_splits(task_cfg(data_dir=str(qa_data), benchmark="xquad"), ["de", "zh"], 0)
    assert set(xquad.evals) == {("dev", "en"), ("test", "de"), ("test", "zh")}
    assert xquad.sources["test/de"][0].endswith("xquad/xquad.de.json")
    # each benchmark scored as its authors score it, MLQA's normalization available for XQuAD
    assert mlqa.score_options == {"normalization": "mlqa"} and xquad.score_options == {"normalization": "squad"}
    xquad_mlqa = qa.load_splits(task_cfg(data_dir=str(qa_data), benchmark="xquad", answer_normalization="mlqa"),
                                ["de"], 0)
    assert xquad_mlqa.score_options == {"normalization": "mlqa"}
    with pytest.raises(ValueError, match="answer_normalization='xtreme'; expected one of squad, mlqa"):
        qa.load_splits(task_cfg(data_dir=str(qa_data), answer_normalization="xtreme"), ["en"], 0)
    with pytest.raises(ValueError, match="not in mlqa"):
        qa.load_splits(task_cfg(data_dir=str(qa_data)), ["en", "th"], 0)


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        qa.load_splits(task_cfg(data_dir=str(tmp_path)), ["en", "zh"], 0)
    message = str(error.value)
    for name in ("squad/train-v1.1.json", "MLQA_V1/dev/dev-context-zh-question-zh.json",
                 "MLQA_V1/test/test-context-en-question-en.json"):
        assert name in message


# --------------------------------------------------------------------------------------------
# windows


def word_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for word in text.split(" "):
        spans.append((start, start + len(word)))
        start += len(word) + 1
    return spans


def long_context(words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choices(WORDS["en"] + WORDS["de"], k=words))


def answer_of(context: str, first_word: int, last_word: int) -> Answer:
    spans = word_spans(context)
    start, end = spans[first_word][0], spans[last_word][1]
    return Answer(context[start:end], start)


def recovered(feature: dict, context: str) -> str | None:
    s, e = feature["start_position"], feature["end_position"]
    if s == 0:
        return None
    return context[feature["char_start"][s]:feature["char_end"][e]]


def test_windows_cover_the_context_and_recover_answers(tokenizer):
    context = long_context(60)
    question = "Where is Berlin?"
    max_length, stride = 32, 8
    question_tokens = len(tokenizer.encode(question)) - 2
    budget = max_length - question_tokens - 4  # context tokens per window
    context_ids, spans = pieces_with_offsets(tokenizer, context)
    token_of_word = [next(i for i, (s, _) in enumerate(spans) if s == start) for start, _ in word_spans(context)]
    last_token_of_word = [t - 1 for t in token_of_word[1:]] + [len(context_ids) - 1]

    # two words across the end of the first window, and a word inside the second window only
    across = next(w for w in range(len(token_of_word) - 1)
                  if token_of_word[w] < budget <= last_token_of_word[w + 1] < stride + budget)
    second = next(w for w in range(len(token_of_word))
                  if budget <= token_of_word[w] and last_token_of_word[w] < stride + budget)
    for answer in (answer_of(context, across, across + 1), answer_of(context, second, second)):
        example = QAExample("q", question, context, [answer])
        features = qa.window_features(example, tokenizer, max_length, stride=stride)
        assert len(features) > 2 and all(len(f["input_ids"]) <= max_length for f in features)
        assert recovered(features[0], context) is None
        assert (features[0]["start_position"], features[0]["end_position"]) == (0, 0)  # <s>
        assert recovered(features[1], context) == answer.text
        found = [recovered(f, context) for f in features]
        assert all(text in (None, answer.text) for text in found)
        first = question_tokens + 3
        windows = [f["input_ids"][first:-1] for f in features]
        assert all(f["input_ids"][0] == BOS_ID for f in features)
        assert windows[0] == context_ids[:budget] and windows[1] == context_ids[stride:stride + budget]
        assert windows[-1][-1] == context_ids[-1]


def test_answers_in_non_latin_contexts(tokenizer, qa_data):
    splits = qa.load_splits(task_cfg(data_dir=str(qa_data)), ["zh", "es", "de"], 0)
    for (split, lang), examples in splits.evals.items():
        features = qa.featurize(examples, tokenizer, [], max_length=40, stride=8)
        for i, example in enumerate(examples):
            texts = [recovered({k: features[k][j] for k in features}, example.context)
                     for j in range(len(features["index"])) if features["example_id"][j] == example.id]
            found = [t for t in texts if t is not None]
            assert found, (lang, example.answers[0].text)
            # whole words come back exactly; a Chinese answer may share its first or last piece with a neighbour
            assert all(example.answers[0].text in t if lang == "zh" else t == example.answers[0].text for t in found)


# --------------------------------------------------------------------------------------------
# decoding


def test_best_span_over_windows_maps_back_to_characters(tokenizer):
    context = long_context(120, seed=3)
    answer = answer_of(context, 100, 101)
    example = QAExample("q7", "Who works in Berlin?", context, [answer])
    columns = qa.featurize([example], tokenizer, [], max_length=64, stride=16)
    rows = [{name: values[i] for name, values in columns.items()} for i in range(len(columns["index"]))]
    holding = [i for i, r in enumerate(rows) if r["start_position"] > 0]
    target = holding[-1]
    assert target > 1 and len(rows) > target
    batch = pad_collate(rows)
    logits = torch.zeros(*batch["input_ids"].shape, 2)
    for i in holding:  # the best of the windows that hold the answer wins
        logits[i, rows[i]["start_position"], 0] = logits[i, rows[i]["end_position"], 1] = 5.0 if i == target else 2.0
    first = columns["char_start"][0].index(0)  # first context token of every window
    logits[0, 0, :] = 50.0  # <s>
    logits[0, 1, :] = 100.0  # a question token: never an answer
    logits[0, first + 10, 0], logits[0, first + 8, 1] = 9.0, 9.0  # end before start
    logits[1, first, 0], logits[1, first + 40, 1] = 8.0, 8.0  # longer than 30 tokens
    top = qa.top_context_positions(logits, batch["input_ids"], batch["attention_mask"])
    assert all(t.shape == (len(rows), qa.N_BEST) for t in top)
    predictions = qa.predict_answers(rows, *top)
    assert predictions == {"q7": answer.text}
    assert qa.qa_scores(predictions, [example], "en") == {"f1": 1.0, "exact_match": 1.0}


def test_candidate_spans_rules():
    spans = qa.candidate_spans([3, 5, 9], [1.0, 4.0, 2.0], [4, 5, 50], [0.5, 3.0, 9.0], max_answer_tokens=30)
    assert spans[0] == (7.0, 5, 5)  # the 5 -> 50 pair scores 13 but is 46 tokens long
    assert all(s <= e < s + 30 for _, s, e in spans)
    assert qa.candidate_spans([2], [float("-inf")], [2], [1.0]) == []


def test_scores_use_per_language_normalization():
    example = QAExample("z", "", "北京是中国的首都。", [Answer("北京", 0)])
    assert qa.qa_scores({"z": "北京是"}, [example], "zh")["f1"] == pytest.approx(0.8)
    thai = QAExample("t", "", "กรุงเทพ มหานคร", [Answer("กรุงเทพ", 0)])
    assert qa.qa_scores({"t": "กรุงเทพ!"}, [thai], "th") == {"f1": 1.0, "exact_match": 1.0}
    # SQuAD v1.1's normalization splits on whitespace only and keeps non-ASCII punctuation
    assert qa.qa_scores({"z": "北京是"}, [example], "zh", normalization="squad") == {"f1": 0.0, "exact_match": 0.0}
    assert qa.qa_scores({"t": "กรุงเทพ!"}, [thai], "th", normalization="squad") == {"f1": 1.0, "exact_match": 1.0}
    spanish = QAExample("s", "", "el «Prado»", [Answer("el «Prado»", 0)])
    assert qa.qa_scores({"s": "Prado"}, [spanish], "es", normalization="mlqa")["exact_match"] == 1.0
    assert qa.qa_scores({"s": "Prado"}, [spanish], "es", normalization="squad") == {"f1": 0.0, "exact_match": 0.0}


# --------------------------------------------------------------------------------------------
# end to end through xlmr_lit.cli.train


class KeepHistory(Callback):
    def on_fit_end(self, trainer, module):
        self.history = module.history
        self.score_fn = module.score_fn


@pytest.mark.parametrize("benchmark, languages", [("mlqa", "[en,es,zh]"), ("xquad", "[en,de,zh]")])
def test_end_to_end(make_cfg, tmp_path, qa_data, tiny_model, benchmark, languages):
    history = KeepHistory()
    rows = train(make_cfg(
        "task=qa", f"model.init=hf:{tiny_model}", f"task.data_dir={qa_data}", f"task.benchmark={benchmark}",
        f"task.languages={languages}", "task.epochs=1", "task.batch_size=8", "task.max_length=64",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", run_dir=tmp_path / benchmark,
    ), callbacks=[history])
    assert {r["metric"] for r in rows} == {"f1", "exact_match"}
    assert all(0.0 <= r["value"] <= 1.0 and r["task"] == "qa" for r in rows)
    scored = set(history.history[-1]["scores"])
    assert history.score_fn.keywords == {"normalization": "mlqa" if benchmark == "mlqa" else "squad"}
    if benchmark == "mlqa":
        assert {r["language"] for r in rows} == {"en", "es", "zh"}
        assert scored == {f"{split}/{lang}" for split in ("dev", "test") for lang in ("en", "es", "zh")}
    else:
        assert scored == {"dev/en", "test/en", "test/de", "test/zh"}
