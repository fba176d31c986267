"""Extractive QA: train on SQuAD v1.1 (English), evaluate MLQA or XQuAD in each language.

`task.benchmark=mlqa`: MLQA dev and test for en es de ar hi vi zh (context and question in the same
language). `task.benchmark=xquad`: XQuAD's 12 languages as `test/<lang>`, with SQuAD v1.1 dev as
`dev/en` for model selection (XQuAD has no dev set).

Features: `<s> question </s></s> context window </s>`, at most max_length tokens; long contexts
are cut into windows that move on by DOC_STRIDE context tokens (BERT's and XTREME's doc_stride).
Each window stores the character span of its context tokens (-1 elsewhere) and, for training,
the answer's start and end token (both 0, `<s>`, when the answer is not inside the window).

Decoding: per window, the top N_BEST start and end positions among the context tokens; pairs
with start <= end and at most MAX_ANSWER_TOKENS tokens, scored by start + end logit; the best
pair over an example's windows is mapped back to characters of the original context. Scores are
F1 and exact match as each benchmark's authors compute them (`task.answer_normalization`): MLQA
with mlqa_evaluation_v1.py's per-language normalization, XQuAD (and SQuAD) with SQuAD v1.1's
evaluate-v1.1.py normalization.

The feature rows (kept in the datamodule's Arrow datasets) carry everything decoding needs:
each batch row's `index` is its row number, so the module looks the rest up there.
"""

import dataclasses
import logging
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F

from xlmr_lit.finetune_module import FineTuneModule, _unique_order
from xlmr_lit.hf_encoder import HFEncoderForQuestionAnswering
from xlmr_lit.model import XLMRForQuestionAnswering
from xlmr_lit.tasks.features import TaskSplits, language_id, subsample
from xlmr_lit.tasks.hub import HubSplit, mlqa_split, squad_split, xquad_split
from xlmr_lit.tasks.metrics import MLQA_LANGUAGES, mlqa_scores, squad_scores
from xlmr_lit.tasks.readers import Answer, DataFormatError, QAExample, read_squad_json, skip_hint
from xlmr_lit.tokenizer import XLMR_SPECIALS, Specials, XLMRTokenizer

log = logging.getLogger(__name__)

DOC_STRIDE = 128
MAX_QUESTION_TOKENS = 64
N_BEST = 20
MAX_ANSWER_TOKENS = 30
NO_CHAR = -1  # character offset of tokens outside the context

XQUAD_LANGUAGES = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi", "ro")
BENCHMARK_LANGUAGES = {"mlqa": MLQA_LANGUAGES, "xquad": XQUAD_LANGUAGES}
# the normalization each benchmark's authors score with: MLQA's script, or SQuAD v1.1's for XQuAD
BENCHMARK_NORMALIZATION = {"mlqa": "mlqa", "xquad": "squad"}
NORMALIZATIONS = ("squad", "mlqa")


# --------------------------------------------------------------------------------------------
# reading


def examples_from_hub_rows(rows, source: str, skip_bad: bool) -> list[QAExample]:
    """QAExamples from HF hub rows (SQuAD columns), each answer checked against its context."""
    examples, skipped = [], 0
    for row in rows:
        context = row["context"]
        answers = [Answer(text, start) for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"])]
        wrong = [a for a in answers if context[a.start:a.start + len(a.text)] != a.text]
        if wrong or not answers:
            error = DataFormatError(source, f"question {row['id']}: answer {wrong[0].text if wrong else None!r} "
                                            f"does not match its context{skip_hint('task.skip_bad', 'questions')}")
            if not skip_bad:
                raise error
            skipped += 1
            continue
        examples.append(QAExample(row["id"], row["question"], context, answers, row.get("title", "")))
    if skipped:
        log.warning("%s: skipped %d questions whose answers do not match their contexts", source, skipped)
    return examples


def eval_files(task_cfg, languages: list[str]) -> dict[tuple[str, str], tuple[str, dict]]:
    """(split, lang) -> (file pattern key, its format arguments) for the benchmark's evaluation sets."""
    if task_cfg.benchmark == "mlqa":
        return {(split, lang): ("mlqa", {"split": split, "lang": lang}) for split in ("dev", "test") for lang in languages}
    return {("dev", "en"): ("squad_dev", {}), **{("test", lang): ("xquad", {"lang": lang}) for lang in languages}}


def hub_location(key: str, split: str = "", lang: str = "") -> HubSplit:
    """The HF hub split of a `task.files` key, read when task.data_dir=null."""
    if key == "squad_train":
        return squad_split("train")
    if key == "squad_dev":
        return squad_split("validation")
    if key == "mlqa":
        return mlqa_split(lang, {"dev": "validation", "test": "test"}[split])
    return xquad_split(lang)


def set_name(name: str | tuple[str, str]) -> str:
    return name if isinstance(name, str) else "/".join(name)


def read_sets(task_cfg, wanted: dict) -> tuple[dict, dict]:
    """Examples and a source description for each entry of `wanted` (name -> (key, format args))."""
    examples, sources = {}, {}
    if task_cfg.data_dir is None:
        for name, (key, args) in wanted.items():
            where = hub_location(key, **args)
            rows = where.load(task_cfg.get("hub_dir"))
            examples[name] = examples_from_hub_rows(rows, str(where), task_cfg.skip_bad)
            sources[set_name(name)] = str(where)
        return examples, sources

    data_dir = Path(task_cfg.data_dir).expanduser()
    paths = {name: data_dir / task_cfg.files[key].format(**args) for name, (key, args) in wanted.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        expected = "\n  ".join(str(p) for p in paths.values())
        raise FileNotFoundError(
            f"task=qa: {len(missing)} missing file(s), first {missing[0]}. Expected under task.data_dir="
            f"{task_cfg.data_dir}:\n  {expected}\n(file names: task.files in conf/task/qa.yaml; "
            f"task.data_dir=null reads the HF hub)"
        )
    for name, path in paths.items():
        examples[name] = read_squad_json(path, skip_bad=task_cfg.skip_bad)
        sources[set_name(name)] = [str(path), path.stat().st_size]
    return examples, sources


def load_splits(task_cfg, languages: list[str], seed: int) -> TaskSplits:
    if task_cfg.setting != "cross_lingual_transfer":
        raise ValueError(f"task.setting={task_cfg.setting!r}: task=qa trains on English SQuAD v1.1 only "
                         f"(cross_lingual_transfer)")
    if task_cfg.benchmark not in BENCHMARK_LANGUAGES:
        raise ValueError(f"task.benchmark={task_cfg.benchmark!r}; expected one of {', '.join(BENCHMARK_LANGUAGES)}")
    known = BENCHMARK_LANGUAGES[task_cfg.benchmark]
    unknown = [lang for lang in languages if lang not in known]
    if unknown:
        raise ValueError(f"task.languages has {unknown}, not in {task_cfg.benchmark}: {' '.join(known)}")
    normalization = task_cfg.get("answer_normalization") or BENCHMARK_NORMALIZATION[task_cfg.benchmark]
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"task.answer_normalization={normalization!r}; expected one of {', '.join(NORMALIZATIONS)} "
                         f"or null (the benchmark's own)")
    examples, sources = read_sets(task_cfg, {"train": ("squad_train", {}), **eval_files(task_cfg, languages)})
    examples = {name: [dataclasses.replace(e, language="en" if name == "train" else name[1]) for e in rows]
                for name, rows in examples.items()}
    max_train = task_cfg.get("max_train_examples")
    if max_train is not None:  # the subsample depends on the seed
        sources = {**sources, "max_train_examples": max_train, "seed": seed}
    train = subsample(examples.pop("train"), max_train, seed)
    return TaskSplits(labels=[], train=train, evals=examples, metric="f1", sources=sources,
                      score_options={"normalization": normalization})


# --------------------------------------------------------------------------------------------
# features


def answer_token_span(spans: list[tuple[int, int]], answer: Answer) -> tuple[int, int] | None:
    """First and last token whose characters overlap the answer; None if no token does."""
    begin, end = answer.start, answer.start + len(answer.text)
    covering = [i for i, (s, e) in enumerate(spans) if s < end and e > begin]
    return (covering[0], covering[-1]) if covering else None


def window_features(example: QAExample, tokenizer: XLMRTokenizer, max_length: int, stride: int = DOC_STRIDE,
                    max_question_tokens: int = MAX_QUESTION_TOKENS) -> list[dict]:
    """One feature per context window: input_ids, char_start/char_end per token, start/end_position."""
    specials = tokenizer.specials
    question_ids = tokenizer.pieces(example.question)[:max_question_tokens]
    context_ids, spans = tokenizer.pieces_with_offsets(example.context)
    first = len(specials.prefix) + len(question_ids) + len(specials.middle)  # the first context token: <s> Q </s></s> C
    budget = max_length - first - len(specials.suffix)
    if budget < 1:
        raise ValueError(f"task.max_length={max_length} leaves no room for context after a "
                         f"{len(question_ids)}-token question")
    answer = answer_token_span(spans, example.answers[0]) if example.answers else None
    features = []
    window_start = 0
    while True:
        window_end = min(window_start + budget, len(context_ids))
        window_spans = spans[window_start:window_end]
        if answer is not None and window_start <= answer[0] and answer[1] < window_end:
            start_position, end_position = first + answer[0] - window_start, first + answer[1] - window_start
        else:
            start_position = end_position = 0
        after = [NO_CHAR] * len(specials.suffix)
        features.append({
            "input_ids": [*specials.prefix, *question_ids, *specials.middle, *context_ids[window_start:window_end],
                          *specials.suffix],
            "char_start": [NO_CHAR] * first + [s for s, _ in window_spans] + after,
            "char_end": [NO_CHAR] * first + [e for _, e in window_spans] + after,
            "start_position": start_position,
            "end_position": end_position,
        })
        if window_end >= len(context_ids):
            return features
        window_start += min(window_end - window_start, stride)


def featurize(examples: list[QAExample], tokenizer: XLMRTokenizer, labels: list[str], max_length: int,
              stride: int = DOC_STRIDE, max_question_tokens: int = MAX_QUESTION_TOKENS) -> dict:
    """Window features of every example, each row also carrying its example (id, context, answers)."""
    columns = defaultdict(list)
    for example in examples:
        for feature in window_features(example, tokenizer, max_length, stride, max_question_tokens):
            for name, value in feature.items():
                columns[name].append(value)
            columns["example_id"].append(example.id)
            columns["context"].append(example.context)
            columns["answer_texts"].append([a.text for a in example.answers])
            columns["answer_starts"].append([a.start for a in example.answers])
            if tokenizer.lang2id:
                columns["langs"].append(language_id(tokenizer, example.language))
    columns["index"] = list(range(len(columns["input_ids"])))
    return dict(columns)


# --------------------------------------------------------------------------------------------
# decoding


def top_context_positions(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                          n_best: int = N_BEST, specials: Specials = XLMR_SPECIALS) -> tuple[torch.Tensor, ...]:
    """The n_best start and end positions among context tokens and their logits, each (B, n_best).

    Context tokens are those between the question's separator (`</s></s>`, `[SEP]`) and the final one;
    rows with fewer are padded with position 0 and logit -inf.
    """
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    question_end = input_ids.eq(specials.middle[0]).int().argmax(1, keepdim=True)
    in_context = ((positions >= question_end + len(specials.middle)) & attention_mask.bool()
                  & input_ids.ne(specials.suffix[0]))
    masked = logits.float().masked_fill(~in_context.unsqueeze(-1), float("-inf"))
    k = min(n_best, input_ids.shape[1])
    start_logits, start_top = masked[..., 0].topk(k, dim=1)
    end_logits, end_top = masked[..., 1].topk(k, dim=1)
    pad = (0, n_best - k)
    return (F.pad(start_top, pad), F.pad(start_logits, pad, value=float("-inf")),
            F.pad(end_top, pad), F.pad(end_logits, pad, value=float("-inf")))


def candidate_spans(start_top: list[int], start_logits: list[float], end_top: list[int], end_logits: list[float],
                    max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[tuple[float, int, int]]:
    """(start + end logit, start, end) for valid pairs, best first."""
    spans = [
        (s_logit + e_logit, s, e)
        for s, s_logit in zip(start_top, start_logits)
        for e, e_logit in zip(end_top, end_logits)
        if s <= e < s + max_answer_tokens and s_logit > float("-inf") and e_logit > float("-inf")
    ]
    return sorted(spans, key=lambda span: span[0], reverse=True)


def predict_answers(rows, start_top, start_logits, end_top, end_logits,
                    max_answer_tokens: int = MAX_ANSWER_TOKENS) -> dict[str, str]:
    """Example id -> the text of its best span over all its windows.

    rows: feature rows (example_id, context, char_start, char_end) in the order of the tensors.
    """
    best: dict[str, tuple[float, str]] = {}
    for row, s_top, s_logits, e_top, e_logits in zip(rows, start_top.tolist(), start_logits.tolist(),
                                                     end_top.tolist(), end_logits.tolist()):
        for score, s, e in candidate_spans(s_top, s_logits, e_top, e_logits, max_answer_tokens):
            begin, end = row["char_start"][s], row["char_end"][e]
            text = row["context"][begin:end].strip() if begin != NO_CHAR and end != NO_CHAR else ""
            if text:  # a lone "▁" piece covers no character
                if score > best.get(row["example_id"], (float("-inf"), ""))[0]:
                    best[row["example_id"]] = (score, text)
                break
    return {example_id: text for example_id, (_, text) in best.items()}


def examples_of(rows) -> list[QAExample]:
    """The examples behind feature rows (example_id, context, answer_texts, answer_starts), once each."""
    examples = {}
    for row in rows:
        if row["example_id"] not in examples:
            answers = [Answer(t, s) for t, s in zip(row["answer_texts"], row["answer_starts"])]
            examples[row["example_id"]] = QAExample(row["example_id"], "", row["context"], answers)
    return list(examples.values())


def qa_scores(predictions: dict[str, str], examples: list[QAExample], lang: str,
              normalization: str = "mlqa") -> dict[str, float]:
    """F1 and exact match as fractions (the results table shows percent, as for every task).

    normalization: 'squad' (evaluate-v1.1.py, the same for every language) or 'mlqa'
    (mlqa_evaluation_v1.py for `lang`).
    """
    if normalization == "squad":
        scores = squad_scores(predictions, examples)
    elif normalization == "mlqa":
        # MLQA defines no normalization for XQuAD's el ru tr th ro; its Hindi one is language-neutral:
        # lowercase, no punctuation, no articles, whitespace tokens.
        scores = mlqa_scores(predictions, examples, lang if lang in MLQA_LANGUAGES else "hi")
    else:
        raise ValueError(f"normalization={normalization!r}; expected one of {', '.join(NORMALIZATIONS)}")
    return {name: value / 100.0 for name, value in scores.items()}


class QuestionAnsweringModule(FineTuneModule):
    """Start/end logits over the tokens (HF `qa_outputs`); spans decoded per example over its windows."""

    def __init__(self, *args, score_fn=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.score_fn = score_fn or qa_scores
        self.model = self.task_model(XLMRForQuestionAnswering, HFEncoderForQuestionAnswering)
        self._answer_positions: torch.Tensor | None = None

    def answer_positions(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end targets of training features, looked up by row number in the training set."""
        if self._answer_positions is None:
            train_set = self.trainer.datamodule.train_set
            self._answer_positions = torch.tensor([list(train_set["start_position"]), list(train_set["end_position"])])
        start, end = self._answer_positions[:, index.cpu()].to(index.device)
        return start, end

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self.forward_batch(batch)  # (B, T, 2)
        start, end = self.answer_positions(batch["index"])
        loss = (F.cross_entropy(logits[..., 0], start) + F.cross_entropy(logits[..., 1], end)) / 2
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def collect(self, batch: dict):
        logits = self.forward_batch(batch)
        return (batch["index"], *top_context_positions(logits, batch["input_ids"], batch["attention_mask"],
                                                       specials=self.specials))

    def score(self, idx: int, parts: list) -> dict[str, float]:
        index, start_top, start_logits, end_top, end_logits = (self.gather(torch.cat(p)) for p in zip(*parts))
        order = _unique_order(index)
        features = self.trainer.datamodule.eval_sets[idx]
        rows = features.select(index[order].tolist()).select_columns(["example_id", "context", "char_start", "char_end"])
        predictions = predict_answers(rows, start_top[order], start_logits[order], end_top[order], end_logits[order])
        examples = examples_of(features.select_columns(["example_id", "context", "answer_texts", "answer_starts"]))
        return self.score_fn(predictions, examples, self.eval_sets[idx][1])


MODULE = QuestionAnsweringModule
score = qa_scores
