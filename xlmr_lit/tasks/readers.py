"""Readers for the fine-tuning benchmarks' files (XNLI, CoNLL NER, PAN-X, SQuAD-style QA, GLUE).

Every reader returns a `Records` list of small dataclasses. A malformed item raises
`DataFormatError` naming the file, the line (1-based) or question id, and what was expected
(undecodable bytes raise UnicodeDecodeError, with the file and line in its message).
With `skip_bad=True` a malformed *item* is skipped instead: the reader logs a warning and
keeps the errors in `records.skipped`, so nothing disappears without a trace. Problems with
a whole file (empty file, unknown header, no items at all) raise in both modes.

TSV files are split on tabs by hand, never with the csv module's quoting: the texts contain
quote characters that are part of the text.
"""

import codecs
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

NLI_LABELS = ("entailment", "neutral", "contradiction")
NER_LABELS = ("PER", "LOC", "ORG", "MISC")


class DataFormatError(ValueError):
    """A benchmark file does not have the expected format, at `path` and `line` (1-based) if known."""

    def __init__(self, path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # picklable although __init__ does not take the formatted message
        return type(self), (self.path, self.message, self.line)


class Records(list):
    """The items a reader returns, plus `skipped`: the errors of items skipped with skip_bad=True."""

    def __init__(self, items=(), skipped=()):
        super().__init__(items)
        self.skipped: list[DataFormatError] = list(skipped)


@dataclass
class SentencePair:
    text_a: str
    text_b: str | None  # None for single-sentence tasks (SST-2, CoLA)
    label: str | float  # float for STS-B
    language: str


@dataclass
class TaggedSentence:
    tokens: list[str]
    tags: list[str]  # IOB2
    language: str


@dataclass
class Answer:
    text: str
    start: int  # character offset into the context


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: list[Answer]
    title: str = ""
    language: str = ""  # the language of question and context (set by the QA task; XLM's language embeddings)


def skip_hint(option: str, items: str) -> str:
    """The end of a bad-item error message: the task option that skips such items."""
    return f"; {option}=true skips malformed {items} and counts them in the log"


class _Collector:
    """Collects items and either raises on a bad one (naming `skip_option`, the task option that
    skips it) or remembers it as skipped."""

    def __init__(self, path, skip_bad: bool, skip_option: str, items: str):
        self.path = path
        self.skip_bad = skip_bad
        self.hint = skip_hint(skip_option, items)
        self.items: list = []
        self.skipped: list[DataFormatError] = []

    def bad(self, error: DataFormatError) -> None:
        if not self.skip_bad:
            raise DataFormatError(error.path, error.message + self.hint, error.line)
        self.skipped.append(error)

    def result(self, what: str) -> Records:
        if self.skipped:
            log.warning("%s: skipped %d malformed items; first: %s", self.path, len(self.skipped), self.skipped[0])
        if not self.items:
            raise DataFormatError(self.path, f"no {what} found (skipped {len(self.skipped)} malformed)")
        return Records(self.items, self.skipped)


def _lines(path, encoding: str = "utf-8"):
    """(line number, text without the line end) for each line, decoded one at a time so that
    a decoding error can name its line."""
    with open(path, "rb") as f:
        # Only \n ends a line: a stray carriage return inside a text must not split it.
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                # Still a UnicodeDecodeError, so that callers can retry with another encoding.
                where = f"{path}, line {number}: not {encoding} text; convert the file to UTF-8 (if it is latin-1: iconv -f latin1 -t utf-8)"
                raise UnicodeDecodeError(e.encoding, e.object, e.start, e.end, f"{e.reason} ({where})") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not raw.endswith(b"\n"):
                log.warning("%s, line %d: the file ends inside this line (no line end); it may be truncated",
                            path, number)
            yield number, line.rstrip("\n").rstrip("\r")


def _tsv_rows(path):
    """(line number, fields) for each non-blank line, split on tabs with no quoting."""
    for number, line in _lines(path):
        if line.strip():
            yield number, line.split("\t")


def _first_row(path) -> tuple[int, list[str]]:
    for number, fields in _tsv_rows(path):
        return number, fields
    raise DataFormatError(path, "empty file")


# How many items the benchmark files hold as their authors distribute them: data rows (TSV), sentences
# (CoNLL, without -DOCSTART-) and questions (SQuAD-style JSON). A file of a known name that reads to
# another count is reported: it may be truncated or another version.
XNLI_COUNTS = {"xnli.dev.tsv": 37350, "xnli.test.tsv": 75150, "train-en.tsv": 392702,
               **{f"multinli.train.{lang}.tsv": 392702
                  for lang in "en fr es de el bg ru tr ar vi th zh hi sw ur".split()},
               **{f"dev-{lang}.tsv": 2490 for lang in "en fr es de el bg ru tr ar vi th zh hi sw ur".split()},
               **{f"test-{lang}.tsv": 5010 for lang in "en fr es de el bg ru tr ar vi th zh hi sw ur".split()}}
CONLL_COUNTS = {"eng.train": 14041, "eng.testa": 3250, "eng.testb": 3453,
                "deu.train": 12152, "deu.testa": 2867, "deu.testb": 3005,
                "esp.train": 8323, "esp.testa": 1915, "esp.testb": 1517,
                "ned.train": 15806, "ned.testa": 2895, "ned.testb": 5195}
MLQA_COUNTS = {"dev": {"en": 1148, "de": 512, "es": 500, "ar": 517, "zh": 504, "vi": 511, "hi": 507},
               "test": {"en": 11590, "de": 4517, "es": 5254, "ar": 5335, "zh": 5137, "vi": 5495, "hi": 4918}}
QA_COUNTS = {"train-v1.1.json": 87599, "dev-v1.1.json": 10570,
             **{f"xquad.{lang}.json": 1190 for lang in "en es de el ru tr ar vi th zh hi ro".split()},
             **{f"{split}-context-{lang}-question-{lang}.json": n
                for split, counts in MLQA_COUNTS.items() for lang, n in counts.items()}}
GLUE_COUNTS = {"MNLI/train.tsv": 392702, "MNLI/dev_matched.tsv": 9815, "MNLI/dev_mismatched.tsv": 9832,
               "QNLI/train.tsv": 104743, "QNLI/dev.tsv": 5463, "QQP/train.tsv": 363846, "QQP/dev.tsv": 40430,
               "RTE/train.tsv": 2490, "RTE/dev.tsv": 277, "SST-2/train.tsv": 67349, "SST-2/dev.tsv": 872,
               "MRPC/train.tsv": 3668, "MRPC/dev.tsv": 408, "CoLA/train.tsv": 8551, "CoLA/dev.tsv": 1043,
               "STS-B/train.tsv": 5749, "STS-B/dev.tsv": 1500}


def report_count(path, count: int, what: str, expected_counts: dict[str, int]) -> None:
    """Log how many items `path` held, and warn when a file of a known name holds another number."""
    path = Path(path)
    log.info("%s: read %d %s", path, count, what)
    expected = expected_counts.get(path.name, expected_counts.get(f"{path.parent.name}/{path.name}"))
    standin = "udhr_standins" in path.parts  # udhr_standins.standin_dir: our own smaller files, not the distributed ones
    if expected is not None and count != expected and not standin:
        log.warning("%s: read %d %s, but the distributed file has %d: it may be truncated or another version",
                    path, count, what, expected)


def detect_encoding(path) -> str:
    """'utf-8' if the whole file is UTF-8, else 'latin-1' (logged): the original CoNLL-2003 German files."""
    raw = Path(path).read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw[:4096]:
        raise DataFormatError(path, "UTF-16 text (a UTF-16 byte order mark or NUL bytes); convert the file to UTF-8, "
                                    "e.g. iconv -f utf-16 -t utf-8", 1)
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        log.warning("%s, line %d: not UTF-8; reading the file as latin-1 (the encoding of the original CoNLL-2003 "
                    "German files; set task.encoding to choose another)", path, line)
        return "latin-1"


_FILE_LANGUAGE = [
    re.compile(r"\.([a-z]{2,3})\.tsv$"),  # XNLI-MT multinli.train.fr.tsv
    re.compile(r"[-_]([a-z]{2,3})\.tsv$"),  # XTREME dev-fr.tsv, PAN-X dev-fr.tsv
    re.compile(r"(?:^|[-_.])(eng|deu|esp|ned)\.(?:train|testa|testb)"),  # CoNLL eng.testa, esp.train
]
_CONLL_FILE_LANGUAGE = {"eng": "en", "deu": "de", "esp": "es", "ned": "nl"}


def _language_from_file_name(path) -> str:
    name = Path(path).name.lower()
    for pattern in _FILE_LANGUAGE:
        if match := pattern.search(name):
            return _CONLL_FILE_LANGUAGE.get(match.group(1), match.group(1))
    raise ValueError(f"{path}: cannot tell the language from the file name; pass language=")


# --------------------------------------------------------------------------------------------
# XNLI


XNLI_1_HEADER_START = ("language", "gold_label")
XNLI_MT_HEADER = ("premise", "hypo", "label")
_XNLI_LABEL_ALIASES = {"contradictory": "contradiction"}  # XNLI-MT spells it so


def xnli_file_format(path) -> str:
    """'xnli-1.0' (xnli.{dev,test}.tsv), 'xnli-mt' (multinli.train.{lang}.tsv) or 'xtreme' (no header)."""
    _, first = _first_row(path)
    if tuple(first[:2]) == XNLI_1_HEADER_START:
        return "xnli-1.0"
    if tuple(first) == XNLI_MT_HEADER:
        return "xnli-mt"
    if len(first) == 3:
        return "xtreme"
    raise DataFormatError(
        path, f"unknown XNLI format: expected a header starting {XNLI_1_HEADER_START} (XNLI-1.0), "
        f"the header {XNLI_MT_HEADER} (XNLI-MT) or 3 columns premise, hypothesis, label (XTREME); "
        f"found {first[:4]!r}", line=1)


def read_xnli_tsv(path, language: str | None = None, skip_bad: bool = False) -> Records:
    """SentencePairs from any of the three XNLI file formats (detected from the first line).

    XNLI-1.0 holds all 15 languages: `language` keeps one of them (None keeps all, each item
    carrying its own language). The single-language formats take `language` from the argument or
    else from the file name (multinli.train.fr.tsv, dev-fr.tsv).
    """
    fmt = xnli_file_format(path)
    if fmt == "xnli-1.0":
        return _read_xnli_1(path, language, skip_bad)
    language = language or _language_from_file_name(path)
    out = _Collector(path, skip_bad, "task.skip_bad_rows", "rows")
    rows = _tsv_rows(path)
    if fmt == "xnli-mt":
        next(rows)
    for number, fields in rows:
        if len(fields) != 3:
            out.bad(DataFormatError(path, f"expected 3 tab-separated columns (premise, hypothesis, label), "
                                          f"found {len(fields)}", number))
            continue
        label = _nli_label(path, number, fields[2], out)
        if label is not None:
            out.items.append(SentencePair(fields[0], fields[1], label, language))
    report_count(path, len(out.items) + len(out.skipped), "XNLI examples", XNLI_COUNTS)
    return out.result(f"XNLI examples ({fmt})")


def _read_xnli_1(path, language: str | None, skip_bad: bool) -> Records:
    out = _Collector(path, skip_bad, "task.skip_bad_rows", "rows")
    rows = _tsv_rows(path)
    _, header = next(rows)
    columns = {name: i for i, name in enumerate(header)}
    missing = [c for c in ("language", "gold_label", "sentence1", "sentence2") if c not in columns]
    if missing:
        raise DataFormatError(path, f"XNLI-1.0 header lacks columns {missing}", line=1)
    rows_read = 0
    for number, fields in rows:
        rows_read += 1
        if len(fields) != len(header):
            out.bad(DataFormatError(path, f"expected {len(header)} tab-separated columns as in the header, "
                                          f"found {len(fields)}", number))
            continue
        row_language = fields[columns["language"]]
        if language is not None and row_language != language:
            continue
        label = _nli_label(path, number, fields[columns["gold_label"]], out)
        if label is not None:
            text_a, text_b = fields[columns["sentence1"]], fields[columns["sentence2"]]
            out.items.append(SentencePair(text_a, text_b, label, row_language))
    report_count(path, rows_read, "XNLI examples (all languages)", XNLI_COUNTS)
    return out.result("XNLI examples" + (f" for language {language!r}" if language else ""))


def _nli_label(path, number: int, raw: str, out: _Collector) -> str | None:
    label = _XNLI_LABEL_ALIASES.get(raw.strip(), raw.strip())
    if label not in NLI_LABELS:
        out.bad(DataFormatError(path, f"unknown label {raw!r}, expected one of {NLI_LABELS}", number))
        return None
    return label


# --------------------------------------------------------------------------------------------
# NER: CoNLL-2002, CoNLL-2003, WikiANN / PAN-X

_TAG = re.compile(r"^(?:O|([BI])-(.+))$")
_LANGUAGE_PREFIX = re.compile(r"^([a-z]{2,3}):(.+)$")  # PAN-X as XTREME preprocesses it: en:token


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """IOB1 (B- only between two adjacent entities of one type) to IOB2 (every entity starts with B-)."""
    out = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def warn_i_starts(where, count: int) -> None:
    """IOB2 input whose entities start with I- (after O or another type), which iob1_to_iob2 read as B-."""
    if count:
        log.warning("%s: %d entities start with I- (treated as B-, as conlleval does)", where, count)


MAX_SENTENCE_TOKENS = 1000  # CoNLL-2002/2003 and PAN-X sentences have at most a few hundred


def read_conll(path, *, scheme: str, language: str | None = None, labels=NER_LABELS,
               encoding: str | None = None, skip_bad: bool = False) -> Records:
    """TaggedSentences from a CoNLL-style file: one token per line, the tag in the last column.

    scheme: 'iob2' for CoNLL-2002 and WikiANN/PAN-X, 'iob1' for CoNLL-2003 (converted to IOB2).
    An IOB2 entity that starts with I- is read as starting with B- (conlleval's reading), and
    their count is logged.
    Columns are tab-separated if the line has a tab (PAN-X), else space-separated (CoNLL). As in
    conlleval, the token is the first column and the tag the last, whatever the number of columns
    (the CoNLL-2003 German files have lines of 3 or 4 columns among their 5-column ones); such lines
    are counted in a warning. `-DOCSTART-` lines are skipped.
    PAN-X tokens may carry a language prefix (`en:Paris`); if the first token has one, every
    token must, and it is removed. language: from the argument, the prefix, or the file name.
    labels: the entity types allowed after B-/I- (None allows any).
    encoding: None reads UTF-8, or latin-1 (logged) when the file is not UTF-8, as the original
    CoNLL-2003 German files are not.
    With skip_bad, a malformed sentence is skipped whole.
    """
    if scheme not in ("iob1", "iob2"):
        raise ValueError(f"scheme must be 'iob1' or 'iob2', not {scheme!r}")
    out = _Collector(path, skip_bad, "task.skip_bad", "sentences")
    allowed_types = None if labels is None else set(labels)
    expected_columns = None
    prefixed = None  # whether tokens carry a language prefix, decided by the first token
    tokens: list[str] = []
    tags: list[str] = []
    sentence_error: DataFormatError | None = None
    sentence_start = 0  # its first line

    i_starts = 0  # IOB2 input: entities that start with I- (after O or another type)
    other_column_lines: list[int] = []  # e.g. CoNLL-2003 German lines whose token and lemma run together

    def finish_sentence():
        nonlocal tokens, tags, sentence_error, i_starts
        if len(tokens) > MAX_SENTENCE_TOKENS:
            raise DataFormatError(path, f"{len(tokens)} tokens without a blank line between them, read as one sentence "
                                        f"(at most {MAX_SENTENCE_TOKENS}); sentences are separated by blank lines",
                                  sentence_start)
        if sentence_error is not None:
            out.bad(sentence_error)
        elif tokens:
            iob2_tags = iob1_to_iob2(tags)  # I- after O or another type starts an entity, as in conlleval
            if scheme == "iob2":
                i_starts += sum(given != read for given, read in zip(tags, iob2_tags))
            out.items.append(TaggedSentence(tokens, iob2_tags, language))
        tokens, tags, sentence_error = [], [], None

    for number, line in _lines(path, encoding or detect_encoding(path)):
        if not line.strip():
            finish_sentence()
            continue
        fields = line.split("\t") if "\t" in line else [x for x in line.split(" ") if x]
        if fields[0] == "-DOCSTART-":
            finish_sentence()
            continue
        if sentence_error is not None:
            continue
        if expected_columns is None:
            expected_columns = len(fields)
            if expected_columns < 2:
                raise DataFormatError(path, "expected at least 2 columns (token ... tag), found 1", number)
        token, tag = fields[0], fields[-1].strip()
        if len(fields) != expected_columns:
            if len(fields) < 2:
                sentence_error = DataFormatError(path, "expected at least 2 columns (token ... tag), found 1", number)
                continue
            other_column_lines.append(number)
        if prefixed is None:
            prefixed = bool(_LANGUAGE_PREFIX.match(token)) and "\t" in line
            if prefixed:
                prefix_language = _LANGUAGE_PREFIX.match(token).group(1)
                if language is not None and language != prefix_language:
                    raise DataFormatError(
                        path, f"tokens are prefixed {prefix_language!r} but language={language!r}", number)
                language = prefix_language
            elif language is None:
                language = _language_from_file_name(path)
        if prefixed:
            if not token.startswith(language + ":") or len(token) == len(language) + 1:
                sentence_error = DataFormatError(
                    path, f"expected a token prefixed {language + ':'!r} like the file's first, found {token!r}",
                    number)
                continue
            token = token[len(language) + 1:]
        match = _TAG.match(tag)
        if match is None or (match.group(2) is not None and allowed_types is not None
                             and match.group(2) not in allowed_types):
            expected = "O, B-X or I-X" + (f" with X in {sorted(allowed_types)}" if allowed_types else "")
            sentence_error = DataFormatError(path, f"unknown tag {tag!r}, expected {expected}", number)
            continue
        if not tokens:
            sentence_start = number
        tokens.append(token)
        tags.append(tag)
    finish_sentence()
    warn_i_starts(path, i_starts)
    if other_column_lines:
        log.warning("%s: %d lines have a column count other than the first line's %d (lines %s); their token is "
                    "read from the first column and the tag from the last, as conlleval does", path,
                    len(other_column_lines), expected_columns, ", ".join(map(str, other_column_lines[:10])))
    report_count(path, len(out.items) + len(out.skipped), "sentences", CONLL_COUNTS)
    return out.result("sentences")


# --------------------------------------------------------------------------------------------
# Extractive QA: SQuAD v1.1, MLQA, XQuAD (same JSON)


def read_squad_json(path, skip_bad: bool = False) -> Records:
    """QAExamples from SQuAD v1.1-style JSON; every answer must match its context span exactly.

    With skip_bad, a question with any malformed answer is skipped whole.
    """
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(path, f"not valid JSON: {e.msg}", e.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataFormatError(path, 'expected a JSON object with a "data" list (SQuAD v1.1 format)')
    out = _Collector(path, skip_bad, "task.skip_bad", "questions")
    seen_ids: set[str] = set()
    for a, article in enumerate(document["data"]):
        title = article.get("title", "")
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            where = f"data[{a}].paragraphs[{p}]"
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise DataFormatError(path, f'{where} has no "context" string')
            for q, qa in enumerate(paragraph.get("qas", [])):
                example = _qa_example(path, f"{where}.qas[{q}]", qa, context, title, seen_ids, out)
                if example is not None:
                    seen_ids.add(example.id)
                    out.items.append(example)
    report_count(path, len(out.items) + len(out.skipped), "questions", QA_COUNTS)
    return out.result("questions")


def _qa_example(path, where: str, qa: dict, context: str, title: str, seen_ids: set[str],
                out: _Collector) -> QAExample | None:
    qid = qa.get("id")
    if not isinstance(qid, str) or not isinstance(qa.get("question"), str):
        out.bad(DataFormatError(path, f'{where}: expected string "id" and "question"'))
        return None
    if qid in seen_ids:
        out.bad(DataFormatError(path, f"question {qid}: duplicate id"))
        return None
    raw_answers = qa.get("answers")
    if not raw_answers:
        out.bad(DataFormatError(path, f"question {qid}: expected at least one answer"))
        return None
    answers = []
    for raw in raw_answers:
        text, start = raw.get("text"), raw.get("answer_start")
        if not isinstance(text, str) or not isinstance(start, int):
            out.bad(DataFormatError(path, f'question {qid}: expected answers with string "text" and integer '
                                          f'"answer_start", found {raw!r}'))
            return None
        span = context[start:start + len(text)]
        if start < 0 or span != text:
            out.bad(DataFormatError(path, f"question {qid}: answer text {text!r} does not match "
                                          f"context[{start}:{start + len(text)}] = {span!r}"))
            return None
        answers.append(Answer(text, start))
    return QAExample(qid, qa["question"], context, answers, title)


# --------------------------------------------------------------------------------------------
# GLUE (the files of the GLUE distribution, download_glue_data.py)


@dataclass(frozen=True)
class GlueFormat:
    text_a: int  # column positions in train.tsv / dev*.tsv
    text_b: int | None
    label: int  # negative counts from the end (MNLI train and dev differ in width)
    labels: tuple[str, ...] | None  # None: a float score (STS-B)
    header: dict[int, str] | None = field(default=None)  # expected names at positions; None: no header


GLUE_FORMATS = {
    "cola": GlueFormat(text_a=3, text_b=None, label=1, labels=("0", "1")),
    "sst2": GlueFormat(0, None, 1, ("0", "1"), {0: "sentence", 1: "label"}),
    "mrpc": GlueFormat(3, 4, 0, ("0", "1"), {0: "Quality", 3: "#1 String", 4: "#2 String"}),
    "qqp": GlueFormat(3, 4, 5, ("0", "1"), {3: "question1", 4: "question2", 5: "is_duplicate"}),
    "stsb": GlueFormat(7, 8, 9, None, {7: "sentence1", 8: "sentence2", 9: "score"}),
    "mnli": GlueFormat(8, 9, -1, NLI_LABELS, {8: "sentence1", 9: "sentence2", -1: "gold_label"}),
    "qnli": GlueFormat(1, 2, 3, ("entailment", "not_entailment"), {1: "question", 2: "sentence", 3: "label"}),
    "rte": GlueFormat(1, 2, 3, ("entailment", "not_entailment"), {1: "sentence1", 2: "sentence2", 3: "label"}),
}
COLA_COLUMNS = 4  # source, label, original mark, sentence; the only GLUE file without a header


def glue_task_name(task: str) -> str:
    """'SST-2' -> 'sst2', 'STS-B' -> 'stsb', 'mnli' -> 'mnli'."""
    name = task.lower().replace("-", "").replace("_", "")
    if name not in GLUE_FORMATS:
        raise ValueError(f"unknown GLUE task {task!r}; expected one of {sorted(GLUE_FORMATS)}")
    return name


def read_glue_tsv(path, task: str, skip_bad: bool = False) -> Records:
    """SentencePairs (language 'en') from a GLUE train/dev file with its labels.

    MNLI's dev_matched.tsv and dev_mismatched.tsv both read as task 'mnli'. Labels are the
    strings of the file ('0'/'1', 'entailment', ...) except STS-B's float score.
    """
    fmt = GLUE_FORMATS[glue_task_name(task)]
    out = _Collector(path, skip_bad, "task.skip_bad_rows", "rows")
    rows = _tsv_rows(path)
    if fmt.header is None:
        columns = COLA_COLUMNS
    else:
        number, header = _first_row(path)
        next(rows)
        wrong = {i: name for i, name in fmt.header.items() if not -len(header) <= i < len(header) or header[i] != name}
        if wrong:
            raise DataFormatError(path, f"expected a {task} header with columns {fmt.header} "
                                        f"(position: name), found {header!r}", number)
        columns = len(header)
    for number, fields in rows:
        if len(fields) != columns:
            out.bad(DataFormatError(path, f"expected {columns} tab-separated columns, found {len(fields)}", number))
            continue
        raw = fields[fmt.label].strip()
        if fmt.labels is None:
            try:
                label = float(raw)
            except ValueError:
                label = None
            if label is None or not 0 <= label <= 5:  # NaN too
                out.bad(DataFormatError(path, f"expected a float score from 0 to 5, found {raw!r}", number))
                continue
        elif raw in fmt.labels:
            label = raw
        else:
            out.bad(DataFormatError(path, f"unknown label {raw!r}, expected one of {fmt.labels}", number))
            continue
        text_b = None if fmt.text_b is None else fields[fmt.text_b]
        out.items.append(SentencePair(fields[fmt.text_a], text_b, label, "en"))
    report_count(path, len(out.items) + len(out.skipped), f"{task} examples", GLUE_COUNTS)
    return out.result(f"{task} examples")
