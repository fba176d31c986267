"""Readers of the benchmark files, on fixtures written here in each real format."""

import json
import pickle

import pytest

from xlmr_lit.tasks.readers import (
    DataFormatError,
    SentencePair,
    TaggedSentence,
    iob1_to_iob2,
    read_conll,
    read_glue_tsv,
    read_squad_json,
    read_xnli_tsv,
    xnli_file_format,
)


def write(path, lines: list[str], newline: str = "\n"):
    path.write_text("".join(line + newline for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# XNLI

XNLI_1_HEADER = ("language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse "
                 "sentence2_parse sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 "
                 "label5 sentence1_tokenized sentence2_tokenized match").split()


def xnli_1_row(language, label, premise, hypothesis, genre="facetoface"):
    row = [""] * len(XNLI_1_HEADER)
    row[0], row[1], row[6], row[7], row[10] = language, label, premise, hypothesis, genre
    row[8], row[9], row[11] = "1", "1", label
    return "\t".join(row)


@pytest.fixture
def xnli_1_dev(tmp_path):
    return write(tmp_path / "xnli.dev.tsv", [
        "\t".join(XNLI_1_HEADER),
        xnli_1_row("en", "neutral", 'He said "Mama, I\'m home.', "He called his mom."),
        xnli_1_row("fr", "contradiction", "Il a dit, « Maman, je suis à la maison. »", '"Il n\'a rien dit.'),
        xnli_1_row("fr", "entailment", "Il a dit.", "Il a parlé."),
    ])


def test_xnli_1_filters_language_and_keeps_quotes(xnli_1_dev):
    assert xnli_file_format(xnli_1_dev) == "xnli-1.0"
    fr = read_xnli_tsv(xnli_1_dev, language="fr")
    assert fr == [
        SentencePair("Il a dit, « Maman, je suis à la maison. »", '"Il n\'a rien dit.', "contradiction", "fr"),
        SentencePair("Il a dit.", "Il a parlé.", "entailment", "fr"),
    ]
    everything = read_xnli_tsv(xnli_1_dev)
    assert [x.language for x in everything] == ["en", "fr", "fr"]
    assert everything[0].text_a == 'He said "Mama, I\'m home.'
    assert everything.skipped == []


def test_xnli_1_language_with_no_rows_is_an_empty_split(xnli_1_dev):
    with pytest.raises(DataFormatError, match="no XNLI examples for language 'sw'"):
        read_xnli_tsv(xnli_1_dev, language="sw")


def test_xnli_mt_maps_contradictory_and_takes_language_from_file_name(tmp_path):
    path = write(tmp_path / "multinli.train.de.tsv", [
        "premise\thypo\tlabel",
        "Konzeptionell cremige Abschöpfung hat zwei grundlegende Dimensionen .\tProdukt und Geographie .\tneutral",
        'Er sagte " ja\tEr schwieg .\tcontradictory',
    ])
    assert xnli_file_format(path) == "xnli-mt"
    pairs = read_xnli_tsv(path)
    assert [p.label for p in pairs] == ["neutral", "contradiction"]
    assert {p.language for p in pairs} == {"de"}
    assert pairs[1].text_a == 'Er sagte " ja'


def test_xtreme_copy_has_no_header_and_crlf_is_fine(tmp_path):
    path = write(tmp_path / "dev-sw.tsv", [
        "Naye akasema, Mama, niko nyumbani.\tHakusema chochote.\tcontradiction",
        '"Nilidhani\tAlimwita mama yake.\tneutral',
    ], newline="\r\n")
    assert xnli_file_format(path) == "xtreme"
    pairs = read_xnli_tsv(path)
    assert pairs[0] == SentencePair("Naye akasema, Mama, niko nyumbani.", "Hakusema chochote.", "contradiction", "sw")
    assert pairs[1].text_a == '"Nilidhani' and pairs[1].label == "neutral"
    assert read_xnli_tsv(path, language="xx")[0].language == "xx"


def test_xnli_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path / "dev-en.tsv", ["a\tb\tneutral", "a\tb\tc\tneutral", "a\tb\tentailment"])
    with pytest.raises(DataFormatError, match=r"dev-en\.tsv, line 2: expected 3 tab-separated columns.*found 4"):
        read_xnli_tsv(path)


def test_xnli_unknown_label(xnli_1_dev, tmp_path):
    path = write(tmp_path / "dev-en.tsv", ["a\tb\tneutral", "a\tb\tmaybe"])
    with pytest.raises(DataFormatError, match="line 2: unknown label 'maybe'"):
        read_xnli_tsv(path)


def test_xnli_skip_mode_records_what_it_skipped(tmp_path):
    path = write(tmp_path / "dev-en.tsv", ["a\tb\tneutral", "a\tb\tc\td", "a\tb\tmaybe", "c\td\tentailment"])
    pairs = read_xnli_tsv(path, skip_bad=True)
    assert [p.text_a for p in pairs] == ["a", "c"]
    assert len(pairs.skipped) == 2
    assert "line 2" in str(pairs.skipped[0]) and "line 3" in str(pairs.skipped[1])
    unpickled = pickle.loads(pickle.dumps(pairs))  # DataModules may send them to worker processes
    assert unpickled == pairs and [str(e) for e in unpickled.skipped] == [str(e) for e in pairs.skipped]


def test_xnli_empty_file_and_unknown_format(tmp_path):
    with pytest.raises(DataFormatError, match="empty file"):
        read_xnli_tsv(write(tmp_path / "dev-en.tsv", []))
    with pytest.raises(DataFormatError, match="unknown XNLI format"):
        read_xnli_tsv(write(tmp_path / "other-en.tsv", ["a\tb"]))
    with pytest.raises(ValueError, match="pass language="):
        read_xnli_tsv(write(tmp_path / "dev.tsv", ["a\tb\tneutral"]))


# --------------------------------------------------------------------------------------------
# NER


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "B-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG", "B-ORG"]
    assert iob1_to_iob2([]) == []


def test_conll2002_spanish_iob2(tmp_path):
    path = write(tmp_path / "esp.testa", [
        "Sao NC B-LOC", "Paulo VMI I-LOC", "( Fpa O", "EFECOM NP B-ORG", ") Fpt O", "",
        "- Fg O", "",
    ])
    sentences = read_conll(path, scheme="iob2")
    assert sentences == [
        TaggedSentence(["Sao", "Paulo", "(", "EFECOM", ")"], ["B-LOC", "I-LOC", "O", "B-ORG", "O"], "es"),
        TaggedSentence(["-"], ["O"], "es"),
    ]


def test_conll2002_dutch_docstart_lines_are_skipped(tmp_path):
    path = write(tmp_path / "ned.testa", [
        "-DOCSTART- -DOCSTART- O", "Dat Pron O", "is V O", "",
        "Bomaanslag Adj O", "op Prep O", "Indiase Adj B-MISC", "trein N O", "",
        "-DOCSTART- -DOCSTART- O", "", "Ja Int O",  # no blank line at the end of the file
    ])
    sentences = read_conll(path, scheme="iob2")
    assert [s.tokens for s in sentences] == [["Dat", "is"], ["Bomaanslag", "op", "Indiase", "trein"], ["Ja"]]
    assert sentences[1].tags == ["O", "O", "B-MISC", "O"] and sentences[0].language == "nl"


def test_conll2003_english_iob1_becomes_iob2(tmp_path):
    path = write(tmp_path / "eng.testb", [
        "-DOCSTART- -X- -X- O", "",
        "JAPAN NNP I-NP I-LOC", "GET VB I-VP O", "CHINA NNP I-NP I-PER", "IN IN I-PP O", "",
        "Nadim NNP I-NP I-PER", "Ladki NNP I-NP I-PER", "Fred NNP I-NP B-PER", "",
        '" " O O', "United NNP I-NP I-LOC", "Arab NNP I-NP I-LOC", "Emirates NNPS I-NP I-LOC", "",
    ])
    sentences = read_conll(path, scheme="iob1")
    assert [s.tags for s in sentences] == [
        ["B-LOC", "O", "B-PER", "O"], ["B-PER", "I-PER", "B-PER"], ["O", "B-LOC", "I-LOC", "I-LOC"]]
    assert sentences[2].tokens[0] == '"' and sentences[0].language == "en"


def test_conll2003_german_has_five_columns_and_may_be_latin1(tmp_path):
    path = tmp_path / "deu.testa"
    path.write_bytes("Großer Großer NN I-NC O\nNordendler <unknown> NN I-NC I-ORG\n\n".encode("latin-1"))
    (sentence,) = read_conll(path, scheme="iob1", encoding="latin-1")
    assert sentence == TaggedSentence(["Großer", "Nordendler"], ["O", "B-ORG"], "de")
    assert read_conll(path, scheme="iob1") == [sentence]  # detected
    with pytest.raises(UnicodeDecodeError, match=r"deu\.testa, line 1: not utf-8 text.*latin-1"):
        read_conll(path, scheme="iob1", encoding="utf-8")


def test_panx_with_and_without_language_prefix(tmp_path):
    plain = write(tmp_path / "dev-en.tsv", ["Sioux\tB-ORG", "Falls\tI-ORG", "(\tO", "", "George\tB-PER", ""])
    assert read_conll(plain, scheme="iob2") == [
        TaggedSentence(["Sioux", "Falls", "("], ["B-ORG", "I-ORG", "O"], "en"),
        TaggedSentence(["George"], ["B-PER"], "en"),
    ]
    prefixed = write(tmp_path / "panx.dev", ["ur:GHK\tB-ORG", "ur:)\tO", "", "ur:http://x\tO", ""])
    sentences = read_conll(prefixed, scheme="iob2")
    assert [s.tokens for s in sentences] == [["GHK", ")"], ["http://x"]]
    assert sentences[0].language == "ur"
    with pytest.raises(DataFormatError, match="prefixed 'ur' but language='en'"):
        read_conll(prefixed, scheme="iob2", language="en")
    mixed = write(tmp_path / "mixed.dev", ["ur:GHK\tB-ORG", "GHK\tO", ""])
    with pytest.raises(DataFormatError, match="mixed.dev, line 2: expected a token prefixed 'ur:'"):
        read_conll(mixed, scheme="iob2")


def test_conll_lines_with_fewer_columns_read_first_and_last_as_conlleval_does(tmp_path, caplog):
    # deu.testb line 9882 and its like: token and lemma run together, 4 columns among the 5-column lines
    path = write(tmp_path / "deu.testb", ["Gro\u00dfer Gro\u00dfer NN I-NC O", "Rhein-Main-Gebiet NE I-NC I-LOC",
                                          "Frankfurt Frankfurt NE I-NC I-LOC", "", "Er er PPER I-NC O", ""])
    sentences = read_conll(path, scheme="iob1")
    assert [s.tokens for s in sentences] == [["Gro\u00dfer", "Rhein-Main-Gebiet", "Frankfurt"], ["Er"]]
    assert sentences[0].tags == ["O", "B-LOC", "I-LOC"]  # the entity is kept whole
    assert "1 lines have a column count other than the first line's 5 (lines 2)" in caplog.text
    one_column = write(tmp_path / "esp.train", ["Sao NC B-LOC", "", "La DA O", "multinacional"])
    with pytest.raises(DataFormatError, match=r"esp\.train, line 4: expected at least 2 columns"):
        read_conll(one_column, scheme="iob2")


def test_conll_unknown_tag_against_the_label_set(tmp_path):
    path = write(tmp_path / "esp.train", ["Sao NC B-LOC", "", "Paulo NC B-PLACE", ""])
    with pytest.raises(DataFormatError, match=r"line 3: unknown tag 'B-PLACE', expected O, B-X or I-X with X in"):
        read_conll(path, scheme="iob2")
    assert read_conll(path, scheme="iob2", labels=None)[1].tags == ["B-PLACE"]
    bad_shape = write(tmp_path / "ned.train", ["Dat Pron X-PER", ""])
    with pytest.raises(DataFormatError, match="unknown tag 'X-PER'"):
        read_conll(bad_shape, scheme="iob2", labels=None)


def test_conll_skip_mode_drops_whole_sentences_and_counts_them(tmp_path):
    path = write(tmp_path / "esp.train", [
        "Sao NC B-LOC", "", "Paulo NC B-PLACE", "y CC O", "", "La DA O", "Brasil NC", "", "Fin NC O", ""])
    sentences = read_conll(path, scheme="iob2", skip_bad=True)
    assert [s.tokens for s in sentences] == [["Sao"], ["Fin"]]
    assert len(sentences.skipped) == 2
    assert "line 3" in str(sentences.skipped[0]) and "line 7" in str(sentences.skipped[1])


def test_conll_empty_file_and_bad_scheme(tmp_path):
    with pytest.raises(DataFormatError, match="no sentences"):
        read_conll(write(tmp_path / "eng.testa", ["-DOCSTART- -X- -X- O", ""]), scheme="iob1")
    with pytest.raises(ValueError, match="scheme"):
        read_conll(tmp_path / "eng.testa", scheme="bio")


def test_iob2_entities_starting_with_i_are_counted_logged_and_read_as_conlleval_does(tmp_path, caplog):
    from xlmr_lit.tasks.metrics import conll_entities, conll_f1

    raw = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"], ["O", "B-MISC", "I-MISC", "O", "I-MISC"]]
    path = write(tmp_path / "esp.testb", [line for tags in raw for line in [f"w N {tag}" for tag in tags] + [""]])
    with caplog.at_level("WARNING"):
        sentences = read_conll(path, scheme="iob2")
    assert [s.tags for s in sentences] == [["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"],
                                           ["O", "B-MISC", "I-MISC", "O", "B-MISC"]]
    assert "esp.testb: 4 entities start with I- (treated as B-, as conlleval does)" in caplog.text
    # the same entities conlleval reads from the raw tags: 4 + 2, and a perfect score against them
    assert [conll_entities(s.tags) for s in sentences] == [conll_entities(tags) for tags in raw]
    assert sum(len(conll_entities(s.tags)) for s in sentences) == 6
    assert conll_f1([s.tags for s in sentences], raw)["f1"] == 1.0
    caplog.clear()
    with caplog.at_level("WARNING"):
        read_conll(write(tmp_path / "eng.testb", ["Paris NNP I-NP I-LOC", ""]), scheme="iob1")
    assert "start with I-" not in caplog.text  # IOB1 entities start with I- by design


def test_bad_item_errors_name_the_task_option_that_skips_them(tmp_path):
    document = [{"paragraphs": [{"context": CONTEXT_DE, "qas": [qa("good", "?", ("308", 38)),
                                                                qa("bad", "?", ("308", 37))]}]}]
    cases = [
        (read_xnli_tsv, write(tmp_path / "dev-en.tsv", ["a\tb\tneutral", "a\tb\tmaybe"]), {},
         "line 2: unknown label 'maybe'", "task.skip_bad_rows=true skips malformed rows"),
        (read_conll, write(tmp_path / "esp.train", ["Sao NC B-LOC", "", "Paulo NC B-PLACE", ""]), {"scheme": "iob2"},
         "line 3: unknown tag 'B-PLACE'", "task.skip_bad=true skips malformed sentences"),
        (read_squad_json, squad_json(tmp_path / "dev.json", document), {},
         "question bad: answer text", "task.skip_bad=true skips malformed questions"),
        (read_glue_tsv, write(tmp_path / "in_domain_dev.tsv", ["gj04\t1\t\tGood.", "gj04\t2\t\tOdd."]),
         {"task": "cola"}, "line 2: unknown label '2'", "task.skip_bad_rows=true skips malformed rows"),
    ]
    for read, path, kwargs, problem, hint in cases:
        with pytest.raises(DataFormatError) as error:
            read(path, **kwargs)
        assert problem in str(error.value) and str(error.value).endswith(hint + " and counts them in the log")
        assert len(read(path, skip_bad=True, **kwargs)) == 1
    with pytest.raises(DataFormatError) as error:  # a whole-file problem: skipping would not help
        read_conll(write(tmp_path / "eng.testa", ["-DOCSTART- -X- -X- O", ""]), scheme="iob1")
    assert "skip" not in str(error.value).replace("skipped", "")


# --------------------------------------------------------------------------------------------
# QA


def squad_json(path, articles):
    path.write_text(json.dumps({"version": "1.1", "data": articles}, ensure_ascii=False), encoding="utf-8")
    return path


def qa(qid, question, *answers):
    return {"id": qid, "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers]}


CONTEXT_ZH = "吉尔吉斯斯坦的主要宗教是伊斯兰教，但宪法保障宗教自由。"
CONTEXT_DE = "Die Verteidigung der Panthers gab nur 308 Punkte ab."


def test_squad_json_reads_mlqa_and_xquad_shapes(tmp_path):
    path = squad_json(tmp_path / "dev.json", [
        {"title": "吉尔吉斯斯坦宗教", "paragraphs": [
            {"context": CONTEXT_ZH, "qas": [qa("q1", "为什么？", ("宪法保障宗教自由", 18))]}]},
        {"paragraphs": [{"context": CONTEXT_DE, "qas": [
            qa("q2", "Wie viele Punkte?", ("308", 38), ("308 Punkte", 38)),
            qa("q3", "Wer?", ("Die Verteidigung der Panthers", 0))]}]},
    ])
    examples = read_squad_json(path)
    assert [e.id for e in examples] == ["q1", "q2", "q3"]
    assert examples[0].title == "吉尔吉斯斯坦宗教" and examples[1].title == ""
    assert [(a.text, a.start) for a in examples[1].answers] == [("308", 38), ("308 Punkte", 38)]
    assert examples[2].context == CONTEXT_DE and examples[2].question == "Wer?"


def test_squad_answer_mismatch_names_the_question_and_both_strings(tmp_path):
    path = squad_json(tmp_path / "dev.json", [{"title": "t", "paragraphs": [{"context": CONTEXT_DE, "qas": [
        qa("good", "?", ("308", 38)), qa("off-by-one", "?", ("308", 37)), qa("good2", "?", ("Panthers", 21))]}]}])
    with pytest.raises(DataFormatError, match=r"dev\.json: question off-by-one: answer text '308' does not match "
                                              r"context\[37:40\] = ' 30'"):
        read_squad_json(path)
    examples = read_squad_json(path, skip_bad=True)
    assert [e.id for e in examples] == ["good", "good2"]
    assert len(examples.skipped) == 1 and "off-by-one" in str(examples.skipped[0])


def test_squad_structural_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no questions"):
        read_squad_json(squad_json(tmp_path / "empty.json", []))
    with pytest.raises(DataFormatError, match='"data" list'):
        read_squad_json(squad_json(tmp_path / "x.json", None))
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        read_squad_json(tmp_path / "broken.json")
    duplicate = squad_json(tmp_path / "dup.json", [{"paragraphs": [{"context": CONTEXT_DE, "qas": [
        qa("q", "?", ("308", 38)), qa("q", "?", ("308", 38))]}]}])
    with pytest.raises(DataFormatError, match="question q: duplicate id"):
        read_squad_json(duplicate)
    unanswered = squad_json(tmp_path / "v2.json", [{"paragraphs": [{"context": CONTEXT_DE, "qas": [qa("q", "?")]}]}])
    with pytest.raises(DataFormatError, match="question q: expected at least one answer"):
        read_squad_json(unanswered)


# --------------------------------------------------------------------------------------------
# GLUE

MNLI_TRAIN_HEADER = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse sentence1_parse "
                     "sentence2_parse sentence1 sentence2 label1 gold_label").split()
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:11] + ["label2", "label3", "label4", "label5", "gold_label"]


def mnli_row(header, premise, hypothesis, label):
    row = ["x"] * len(header)
    row[8], row[9], row[-1] = premise, hypothesis, label
    return "\t".join(row)


def test_glue_mnli_train_and_dev_widths(tmp_path):
    train = write(tmp_path / "train.tsv", ["\t".join(MNLI_TRAIN_HEADER),
                                           mnli_row(MNLI_TRAIN_HEADER, 'He said "no', "He spoke.", "entailment")])
    dev = write(tmp_path / "dev_mismatched.tsv", ["\t".join(MNLI_DEV_HEADER),
                                                  mnli_row(MNLI_DEV_HEADER, "A", "B", "contradiction")])
    assert read_glue_tsv(train, "mnli") == [SentencePair('He said "no', "He spoke.", "entailment", "en")]
    assert read_glue_tsv(dev, "MNLI") == [SentencePair("A", "B", "contradiction", "en")]


@pytest.mark.parametrize("task, lines, expected", [
    ("SST-2", ["sentence\tlabel", "it 's a charming and often affecting journey . \t1"],
     SentencePair("it 's a charming and often affecting journey . ", None, "1", "en")),
    ("CoLA", ["gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose."],
     SentencePair("Our friends won't buy this analysis, let alone the next one we propose.", None, "1", "en")),
    ("MRPC", ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String", '1\t1\t2\tHe said "yes" .\tHe agreed .'],
     SentencePair('He said "yes" .', "He agreed .", "1", "en")),
    ("QQP", ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "0\t1\t2\tWhy?\tHow?\t0"],
     SentencePair("Why?", "How?", "0", "en")),
    ("STS-B", ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
               "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA man.\tA person.\t4.250"],
     SentencePair("A man.", "A person.", 4.25, "en")),
    ("QNLI", ["index\tquestion\tsentence\tlabel", "0\tWhat?\tThis.\tnot_entailment"],
     SentencePair("What?", "This.", "not_entailment", "en")),
    ("RTE", ["index\tsentence1\tsentence2\tlabel", "0\tDana Reeve died.\tReeve had an accident.\tentailment"],
     SentencePair("Dana Reeve died.", "Reeve had an accident.", "entailment", "en")),
])
def test_glue_column_positions(tmp_path, task, lines, expected):
    path = tmp_path / "dev.tsv"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert read_glue_tsv(path, task) == [expected]


def test_glue_errors(tmp_path):
    cola = write(tmp_path / "in_domain_dev.tsv", ["gj04\t1\t\tGood.", "gj04\t0\t*\tBad one.", "gj04\t2\t\tOdd."])
    with pytest.raises(DataFormatError, match=r"in_domain_dev\.tsv, line 3: unknown label '2'"):
        read_glue_tsv(cola, "cola")
    qqp = write(tmp_path / "train.tsv", ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                                         "0\t1\t2\tWhy?\tHow?\t0", "1\t3\t4\tWhat?\t1"])
    with pytest.raises(DataFormatError, match=r"train\.tsv, line 3: expected 6 tab-separated columns, found 5"):
        read_glue_tsv(qqp, "qqp")
    kept = read_glue_tsv(qqp, "qqp", skip_bad=True)
    assert len(kept) == 1 and len(kept.skipped) == 1
    with pytest.raises(DataFormatError, match="expected a qnli header"):
        read_glue_tsv(qqp, "qnli")
    stsb = write(tmp_path / "sts.tsv", ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
                                        "sentence2\tscore", "0\tg\tf\ty\to\ts\ts\tA.\tB.\thigh"])
    with pytest.raises(DataFormatError, match="line 2: expected a float score from 0 to 5, found 'high'"):
        read_glue_tsv(stsb, "stsb")
    with pytest.raises(DataFormatError, match="no rte examples"):
        read_glue_tsv(write(tmp_path / "rte.tsv", ["index\tsentence1\tsentence2\tlabel"]), "rte")
    with pytest.raises(ValueError, match="unknown GLUE task"):
        read_glue_tsv(qqp, "wnli")
