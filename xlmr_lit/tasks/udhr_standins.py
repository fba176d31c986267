"""Offline stand-ins for XNLI, NER, MLQA/XQuAD and GLUE, built from the bundled UDHR text and written in each
benchmark's real file layout, so that the tables' experiments (experiments/tables/) run at scale=tiny
with no download, through the same readers, features, metrics and model selection as the real data.
`task.udhr_standin=true` (set by conf/scale/tiny.yaml) writes them and points task.data_dir at them.

They test the same kinds of skill on the UDHR's parallel text, not the benchmarks' own tasks:
- XNLI (XTREME layout: {train,dev,test}-{lang}.tsv, premise TAB hypothesis TAB label). Each paragraph
  is cut at each of CUT_POINTS (1/5 .. 4/5 of its words; of its characters for scripts without spaces).
  Premise: the part before a cut. Hypothesis, of 4 to 8 words: a stretch of the premise (entailment),
  a stretch of the rest of the paragraph (neutral: new content), or a stretch of the premise in reverse order
  (contradiction: the same words, another claim). Neutral stretches start anywhere after the cut (never one the
  premise holds): when they were the words right after it, a premise's twelve neutral hypotheses all began alike,
  mini's encoder learnt them by heart and read unseen premises' neutral pairs as entailment (benchmarks/RESULTS.md
  section 26). Entailment and contradiction have the same words, so only word order tells them apart: with the
  premise's words replaced instead, a tiny model fine-tuned from random init matched a pretrained one
  (benchmarks/RESULTS.md section 22). NLI_COPIES triples per cut in dev and test, NLI_TRAIN_COPIES in train (the
  same premises with more stretches; MNLI's stand-in keeps NLI_COPIES). For translate-test,
  translate-test/test-{lang}-en-translated.tsv holds the English test rows: the English UDHR is a (human)
  translation of every other language's.
- NER (the CoNLL files named in conf/task/ner.yaml, `token tag`; PAN-X files for other languages).
  Runs of at most 20 words (characters in Chinese, as PAN-X), each NER_COPIES times with 1 to 3 spans of
  1 to 3 words of a language of another script inserted (e.g. Russian, Greek, Chinese, Urdu into English;
  French, Swahili into Russian), each span tagged MISC.
  Trained on English alone, a tagger learns "not Latin" and scores near 0 on Russian, Chinese or Urdu, where
  the inserted words are the Latin ones (benchmarks/RESULTS.md section 15).
- QA (SQuAD v1.1 JSON: squad/ for English training and dev, MLQA_V1/ or xquad/ per language). Context:
  a paragraph, as in SQuAD. Question: the last (up to) 10 words before a point in it; answer: the 4 words that
  follow (16 and 6 characters without spaces). A question after every word from the 3rd: with
  whole articles as contexts and questions at CUT_POINTS only (331 English training questions), pretrained and
  random-init encoders both stayed near 20 F1 (benchmarks/RESULTS.md section 24).
- GLUE (the GLUE distribution's <Task>/train.tsv and dev.tsv, MNLI dev_matched.tsv and dev_mismatched.tsv,
  each with its real columns and header; CoLA without one), from the English text only:
  MNLI the XNLI pairs; QNLI the last words before a cut vs the rest of the same paragraph (entailment) or
  of another paragraph of the article (not_entailment); RTE a paragraph vs its own second part or another
  article's; QQP a paragraph's first part vs itself with one word dropped (duplicate) or another
  paragraph's first part; MRPC a paragraph vs itself with two neighbouring words swapped (equivalent) or
  another paragraph of the article; SST-2 a run of words in order (1) or reversed (0), runs of 6 to 20
  words starting every GLUE_RUN_STRIDE words; CoLA a run in
  order (acceptable) or with two neighbouring words swapped; STS-B a run vs the run with a share of its
  words replaced by another paragraph's, scored 5 x the share kept.
Articles are split by document index: d % 5 in {0, 1, 2} train, 3 dev, 4 test.
The text is fixed, so each stand-in is generated once (seed 0) and cached under paths.cache_dir.
"""

import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.prepare import atomic_dir, cache_key
from xlmr_lit.tasks.glue import TASK_DIRS, split_files

VERSION = 4  # the generators' seeds; bumping it changes every stand-in's content
LAYOUT_VERSION = 3  # the files written; bumping it only rewrites the cached stand-ins
SPLIT_OF_REMAINDER = {0: "train", 1: "train", 2: "train", 3: "dev", 4: "test"}
NER_DONORS = ["fr", "de", "sw", "tr", "ru", "el", "zh", "ur", "ar", "hi"]  # inserted words' languages
# a sentence gets words of another script than its own, so that the inserted words are told apart by their
# pieces, as a name is by its capital letters, and not by knowing every word of the language
SCRIPTS = {"ru": "Cyrl", "bg": "Cyrl", "uk": "Cyrl", "mk": "Cyrl", "sr": "Cyrl", "be": "Cyrl", "kk": "Cyrl",
           "ky": "Cyrl", "mn": "Cyrl", "el": "Grek", "zh": "Hani", "zh_Hant": "Hani", "ja": "Jpan", "ko": "Hang",
           "ur": "Arab", "ar": "Arab", "fa": "Arab", "ps": "Arab", "ug": "Arab", "hi": "Deva", "mr": "Deva",
           "ne": "Deva", "sa": "Deva", "he": "Hebr", "yi": "Hebr", "th": "Thai"}  # others: Latin
NER_MAX_WORDS = 20
QA_QUESTION_WORDS, QA_ANSWER_WORDS = 10, 4
QA_QUESTION_CHARS, QA_ANSWER_CHARS = 16, 6  # scripts written without spaces
QA_VERSION = 3  # the QA design: 3 = paragraph contexts, a question after every word (1 = articles, CUT_POINTS)
UNSPACED_LANGUAGES = {"zh", "zh_Hant", "ja", "th", "lo", "km", "my"}
CUT_POINTS = (1 / 5, 2 / 7, 1 / 3, 2 / 5, 1 / 2, 3 / 5, 2 / 3, 5 / 7, 4 / 5)
NLI_HYPOTHESIS_WORDS = (4, 8)  # (fewest, most) words of a hypothesis; characters x 2 without spaces
NLI_COPIES = 4  # each cut gives this many (entailment, neutral, contradiction) triples, each with its own stretch
NLI_TRAIN_COPIES = 12  # in XNLI's training files: 4 per cut, 3588 English pairs, were learnt by heart (RESULTS §25)
NLI_VERSION = 3  # the XNLI (and MNLI) pairs' design: 3 = neutral is a stretch anywhere after the cut (2: the
                 # words right after it), contradiction the stretch reversed
NER_COPIES = 6  # each run of words appears with this many different insertions
NER_MAX_SPANS = 3
GLUE_RUN_STRIDE = 3


def halves(paragraph: str, lang: str, at: float = 0.5) -> tuple[str, str] | None:
    """A paragraph cut in two at fraction `at` of its words (of its characters, for scripts without
    spaces); None if it is too short to cut."""
    if lang in UNSPACED_LANGUAGES:
        cut = round(len(paragraph) * at)
        return (paragraph[:cut], paragraph[cut:]) if len(paragraph) >= 12 else None
    words = paragraph.split()
    cut = round(len(words) * at)
    return (" ".join(words[:cut]), " ".join(words[cut:])) if len(words) >= 6 else None


def cuts(paragraph: str, lang: str) -> list[tuple[str, str]]:
    """The paragraph cut at each of CUT_POINTS, each distinct cut once."""
    out = [parts for at in CUT_POINTS if (parts := halves(paragraph, lang, at))]
    return list(dict.fromkeys(out))


def articles(lang: str) -> dict[str, list[tuple[int, list[str]]]]:
    """{split: [(document index, whitespace-normalised paragraphs)]} of the bundled UDHR text of `lang`."""
    path = language_file(BUNDLED_CORPUS_DIR, lang)
    out: dict[str, list[tuple[int, list[str]]]] = {"train": [], "dev": [], "test": []}
    for doc_index, doc in enumerate(read_documents(path, ReadReport(path))):
        out[SPLIT_OF_REMAINDER[doc_index % 5]].append((doc_index, [" ".join(p.split()) for p in doc]))
    return out


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng([VERSION, *(sum(map(ord, str(k))) for k in key)])


# --------------------------------------------------------------------------------------------
# XNLI


def units(text: str, lang: str) -> list[str]:
    """Words, or characters for scripts written without spaces."""
    return list(text) if lang in UNSPACED_LANGUAGES else text.split()


def joined(parts: list[str], lang: str) -> str:
    return "".join(parts) if lang in UNSPACED_LANGUAGES else " ".join(parts)


def holds(text: str, part: str, lang: str) -> bool:
    """Whether `part` is a run of `text`'s words (of its characters, for scripts without spaces)."""
    return part in text if lang in UNSPACED_LANGUAGES else f" {part} " in f" {text} "


def nli_rows(lang: str, docs: list[tuple[int, list[str]]], rng: np.random.Generator,
             copies: int = NLI_COPIES) -> list[tuple[str, str, str]]:
    cut = [parts for _, paragraphs in docs for p in paragraphs for parts in cuts(p, lang)]
    scale = 2 if lang in UNSPACED_LANGUAGES else 1
    fewest, most = (scale * n for n in NLI_HYPOTHESIS_WORDS)
    rows = []
    for first, second in [c for c in cut for _ in range(copies)]:
        premise, following = units(first, lang), units(second, lang)
        length = int(rng.integers(fewest, most + 1))
        if len(premise) < fewest or len(following) < fewest:
            continue
        length = min(length, len(premise), len(following))
        begin = int(rng.integers(len(premise) - length + 1))
        stretch = premise[begin : begin + length]
        new_content = [joined(following[at : at + length], lang) for at in range(len(following) - length + 1)]
        new_content = [words for words in new_content if not holds(first, words, lang)]  # the text repeats itself
        if not new_content:
            continue
        rows.append((first, joined(stretch, lang), "entailment"))
        rows.append((first, new_content[int(rng.integers(len(new_content)))], "neutral"))
        rows.append((first, joined(stretch[::-1], lang), "contradiction"))
    return rows


def _write_tsv(path: Path, rows, header: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ([header] if header else []) + ["\t".join(map(str, row)) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_xnli(out: Path, task_cfg, languages: list[str]) -> None:
    for lang in languages:
        for split, docs in articles(lang).items():
            copies = NLI_TRAIN_COPIES if split == "train" else NLI_COPIES
            _write_tsv(out / f"{split}-{lang}.tsv", nli_rows(lang, docs, _rng("xnli", lang, split), copies))
    english_test = nli_rows("en", articles("en")["test"], _rng("xnli", "en", "test"))
    for lang in languages:
        if lang != "en":
            _write_tsv(out / "translate-test" / f"test-{lang}-en-translated.tsv", english_test)


# --------------------------------------------------------------------------------------------
# NER


def tagged_runs(docs, lang: str, donor_words: list[list[str]], rng: np.random.Generator) -> list[list[tuple[str, str]]]:
    """Runs of at most NER_MAX_WORDS words (characters for scripts without spaces, as PAN-X tokenizes Chinese),
    each NER_COPIES times with a different insertion."""
    sentences = []
    for _, paragraphs in docs:
        for paragraph in paragraphs:
            words = [u for u in units(paragraph, lang) if u.strip()]
            for begin in range(0, len(words), NER_MAX_WORDS):
                run = words[begin : begin + NER_MAX_WORDS]
                if len(run) < 4:
                    continue
                for _ in range(NER_COPIES):
                    sentences.append(insert_spans(run, donor_words, rng))
    return sentences


def insert_spans(run: list[str], donor_words: list[list[str]], rng: np.random.Generator) -> list[tuple[str, str]]:
    """`run` with 1 to NER_MAX_SPANS spans of 1-3 consecutive words of random donor texts inserted at distinct
    places (so that spans never touch), each span tagged MISC."""
    n_spans = int(rng.integers(1, min(NER_MAX_SPANS, len(run) + 1) + 1))
    places = set(rng.choice(len(run) + 1, size=n_spans, replace=False).tolist())
    out = []
    for at in range(len(run) + 1):
        if at in places:
            donor = donor_words[rng.integers(len(donor_words))]
            length = int(rng.integers(1, 4))
            start = int(rng.integers(max(len(donor) - length, 1)))
            inserted = donor[start : start + length]
            out += list(zip(inserted, ["B-MISC"] + ["I-MISC"] * (len(inserted) - 1)))
        if at < len(run):
            out.append((run[at], "O"))
    return out


def write_ner(out: Path, task_cfg, languages: list[str]) -> None:
    donors = {split: {} for split in SPLIT_OF_REMAINDER.values()}
    for donor in NER_DONORS:
        for split, docs in articles(donor).items():
            words = [units(p, donor) for _, paragraphs in docs for p in paragraphs if len(units(p, donor)) >= 3]
            if donor in UNSPACED_LANGUAGES:
                words = [["".join(chars[i : i + 2]) for i in range(0, len(chars), 2)] for chars in words]
            donors[split][donor] = words
    for lang in languages:
        for split, docs in articles(lang).items():
            own = {w for _, paragraphs in docs for p in paragraphs for w in units(p, lang)}
            pool = [kept for donor, texts in donors[split].items()
                    if SCRIPTS.get(donor, "Latn") != SCRIPTS.get(lang, "Latn") for words in texts
                    if (kept := [w for w in words if w not in own])]
            sentences = tagged_runs(docs, lang, pool, _rng("ner", lang, split))
            if lang in task_cfg.conll:
                path, text = out / task_cfg.conll[lang][split], "-DOCSTART- O\n\n" + conll_text(sentences, "", " ")
            else:
                path, text = out / task_cfg.panx[split].format(lang=lang), conll_text(sentences, f"{lang}:", "\t")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def conll_text(sentences: list[list[tuple[str, str]]], token_prefix: str, separator: str) -> str:
    """One `token tag` line per word, a blank line after each sentence (PAN-X: `lang:token<TAB>tag`)."""
    return "".join("".join(f"{token_prefix}{w}{separator}{tag}\n" for w, tag in s) + "\n" for s in sentences)


# --------------------------------------------------------------------------------------------
# QA


def qa_cuts(paragraph: str, lang: str) -> list[tuple[str, str, int]]:
    """(question, answer, answer's character offset in the paragraph) after every word of the paragraph from the
    3rd (every 2nd character from the 6th, for scripts without spaces)."""
    if lang in UNSPACED_LANGUAGES:
        return [(paragraph[max(0, i - QA_QUESTION_CHARS):i], paragraph[i:i + QA_ANSWER_CHARS], i)
                for i in range(6, len(paragraph) - 1, 2)]
    words = paragraph.split()
    starts = [0]
    for word in words[:-1]:
        starts.append(starts[-1] + len(word) + 1)
    return [(" ".join(words[max(0, i - QA_QUESTION_WORDS):i]), " ".join(words[i:i + QA_ANSWER_WORDS]), starts[i])
            for i in range(3, len(words))]


def qa_articles(lang: str, docs) -> list[dict]:
    """SQuAD v1.1 `data` entries: one per article, each paragraph a context (as in SQuAD), with qa_cuts' questions."""
    entries = []
    for doc_index, paragraphs in docs:
        contexts = [{"context": paragraph,
                     "qas": [{"id": f"udhr-{lang}-{doc_index}-{p}-{c}", "question": question,
                              "answers": [{"text": answer, "answer_start": start}]}
                             for c, (question, answer, start) in enumerate(qa_cuts(paragraph, lang))]}
                    for p, paragraph in enumerate(paragraphs)]
        if contexts := [c for c in contexts if c["qas"]]:
            entries.append({"title": f"udhr-{lang}-{doc_index}", "paragraphs": contexts})
    return entries


def _write_squad(path: Path, entries: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "udhr-standin", "data": entries}, ensure_ascii=False), encoding="utf-8")


def write_qa(out: Path, task_cfg, languages: list[str]) -> None:
    files = task_cfg.files
    english = articles("en")
    _write_squad(out / files.squad_train, qa_articles("en", english["train"]))
    _write_squad(out / files.squad_dev, qa_articles("en", english["dev"]))
    for lang in languages:
        docs = articles(lang)
        if task_cfg.benchmark == "xquad":
            _write_squad(out / files.xquad.format(lang=lang), qa_articles(lang, docs["test"]))
        else:
            for split in ("dev", "test"):
                _write_squad(out / files.mlqa.format(split=split, lang=lang), qa_articles(lang, docs[split]))


# --------------------------------------------------------------------------------------------
# GLUE


def _swap_neighbours(words: list[str], rng: np.random.Generator) -> list[str]:
    i = int(rng.integers(len(words) - 1))
    return words[:i] + [words[i + 1], words[i]] + words[i + 2 :]


def _runs(docs, rng: np.random.Generator) -> list[list[str]]:
    """Runs of 6 to NER_MAX_WORDS words of each paragraph, starting every GLUE_RUN_STRIDE words."""
    out = []
    for _, paragraphs in docs:
        for paragraph in paragraphs:
            words = paragraph.split()
            for begin in range(0, max(len(words) - 5, 1), GLUE_RUN_STRIDE):
                run = words[begin : begin + int(rng.integers(6, NER_MAX_WORDS + 1))]
                if len(run) >= 6:
                    out.append(run)
    return out


def glue_rows(task: str, docs, rng: np.random.Generator) -> list[tuple]:
    """(text_a, text_b or None, label) of one GLUE task, labels as the task's files write them."""
    cut = [(d, i, parts) for d, paragraphs in docs for i, p in enumerate(paragraphs) for parts in cuts(p, "en")]
    paragraphs = [(d, p) for d, ps in docs for p in ps if len(p.split()) >= 6]
    runs = _runs(docs, rng)

    def pick(candidates: list):
        return candidates[rng.integers(len(candidates))]

    rows = []
    if task == "mnli":
        return nli_rows("en", docs, rng)
    if task == "qnli":
        for d, i, (first, second) in cut:
            question = " ".join(first.split()[-QA_QUESTION_WORDS:]) + "?"
            rows.append((question, second, "entailment"))
            other = [s for d2, i2, (_, s) in cut if d2 == d and i2 != i]
            if other:
                rows.append((question, pick(other), "not_entailment"))
    elif task == "rte":
        for d, i, (first, second) in cut:
            rows.append((f"{first} {second}", second, "entailment"))
            other = [s for d2, _, (_, s) in cut if d2 != d]
            if other:
                rows.append((f"{first} {second}", pick(other), "not_entailment"))
    elif task == "qqp":
        for d, i, (first, _) in cut:
            words = first.split()
            drop = int(rng.integers(len(words)))
            rows.append((first, " ".join(words[:drop] + words[drop + 1 :]), "1"))
            other = [f for d2, i2, (f, _) in cut if (d2, i2) != (d, i)]
            if other:
                rows.append((first, pick(other), "0"))
    elif task == "mrpc":
        for d, p in paragraphs:
            rows.append((p, " ".join(_swap_neighbours(p.split(), rng)), "1"))
            other = [p2 for d2, p2 in paragraphs if d2 == d and p2 != p]
            if other:
                rows.append((p, pick(other), "0"))
    elif task == "sst2":
        for run in runs:
            rows += [(" ".join(run), None, "1"), (" ".join(reversed(run)), None, "0")]
    elif task == "cola":
        for run in runs:
            rows += [(" ".join(run), None, "1"), (" ".join(_swap_neighbours(run, rng)), None, "0")]
    elif task == "stsb":
        donors = [w for run in runs for w in run]
        for run in runs + runs:
            replaced = int(rng.integers(len(run) + 1))
            where = set(rng.choice(len(run), size=replaced, replace=False).tolist())
            other = [pick(donors) if j in where else w for j, w in enumerate(run)]
            rows.append((" ".join(run), " ".join(other), f"{5 * (1 - replaced / len(run)):.3f}"))
    return rows


def glue_file_rows(task: str, rows: list[tuple], split: str) -> tuple[str | None, list[tuple]]:
    """(header, rows) of a GLUE distribution file with every column the real one has."""
    if task == "cola":
        return None, [("udhr", label, "" if label == "1" else "*", a) for a, _, label in rows]
    if task == "sst2":
        return "sentence\tlabel", [(a, label) for a, _, label in rows]
    if task == "mrpc":
        return "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", [(label, 2 * i, 2 * i + 1, a, b) for i, (a, b, label) in enumerate(rows)]
    if task == "qqp":
        return ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                [(i, 2 * i, 2 * i + 1, a, b, label) for i, (a, b, label) in enumerate(rows)])
    if task == "stsb":
        return ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
                [(i, "udhr", "udhr", "1948", i, "none", "none", a, b, label) for i, (a, b, label) in enumerate(rows)])
    if task in ("qnli", "rte"):
        columns = "question\tsentence" if task == "qnli" else "sentence1\tsentence2"
        return f"index\t{columns}\tlabel", [(i, a, b, label) for i, (a, b, label) in enumerate(rows)]
    # MNLI: train has one annotator label, the dev sets five, then gold_label
    labels = ["label1"] if split == "train" else [f"label{k}" for k in range(1, 6)]
    header = "\t".join(["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                        "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", *labels, "gold_label"])
    return header, [(i, i, f"{i}e", "udhr", f"( {a} )", f"( {b} )", f"(ROOT {a})", f"(ROOT {b})", a, b,
                     *[label] * len(labels), label) for i, (a, b, label) in enumerate(rows)]


def write_glue(out: Path, task_cfg, languages: list[str]) -> None:
    """All eight tasks, English only (GLUE's language), in one GLUE distribution directory."""
    english = articles("en")
    docs_of = {"train": english["train"], "dev": english["dev"], "dev_mismatched": english["test"]}
    for task, task_dir in TASK_DIRS.items():
        for split, name in split_files(task).items():
            header, rows = glue_file_rows(task, glue_rows(task, docs_of[split], _rng("glue", task, split)), split)
            _write_tsv(out / task_dir / name, rows, header)


# --------------------------------------------------------------------------------------------

WRITERS = {"xnli": write_xnli, "ner": write_ner, "qa": write_qa, "glue": write_glue}


def standin_dir(task_cfg, languages: list[str], cache_dir: Path) -> Path:
    """The stand-in's data_dir for task `task_cfg.name` and `languages`, written on first use."""
    if task_cfg.name not in WRITERS:
        raise ValueError(f"task.udhr_standin=true: there is no UDHR stand-in for task={task_cfg.name} "
                         f"(there are for {', '.join(WRITERS)})")
    plain = OmegaConf.to_container(task_cfg, resolve=True)
    layout = {key: plain[key] for key in ("conll", "panx", "files", "benchmark") if key in plain}
    spec = {"udhr_standin": task_cfg.name, "v": VERSION, "nli": NLI_VERSION, "nli_train_copies": NLI_TRAIN_COPIES,
            "qa": QA_VERSION, "files": LAYOUT_VERSION,
            "languages": sorted(languages),
            "layout": layout}
    final = cache_dir / "udhr_standins" / f"{task_cfg.name}-{cache_key(spec)}"
    if not final.is_dir():
        with atomic_dir(final) as scratch:
            WRITERS[task_cfg.name](scratch, task_cfg, languages)
    return final

