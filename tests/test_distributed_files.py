"""The benchmark files as their authors distribute them: encodings, item counts and truncated files.

Fixtures are generated here in the distributed formats (CoNLL-2003 German in latin-1 with -DOCSTART-
and five columns, XNLI-1.0 / XNLI-MT-1.0 TSVs, SQuAD v1.1-style JSON of MLQA_V1 and XQuAD)."""

import json
import logging

import pytest
from omegaconf import OmegaConf

from xlmr_lit.tasks import ner
from xlmr_lit.tasks.readers import read_conll, read_squad_json, read_xnli_tsv
from xlmr_lit.cli import CONF_DIR

GERMAN = [  # (token, lemma, POS, chunk, IOB1 tag)
    ("Der", "d", "ART", "I-NC", "O"), ("Verein", "Verein", "NN", "I-NC", "O"), ("aus", "aus", "APPR", "I-PC", "O"),
    ("Frankfurt", "Frankfurt", "NE", "I-NC", "I-LOC"), ("lud", "laden", "VVFIN", "I-VC", "O"),
    ("ein", "ein", "PTKVZ", "O", "O"), (".", ".", "$.", "O", "O"),
]


def write_german(path, sentences: int, tail: str = "\n") -> None:
    """deu.* as distributed: latin-1, `-DOCSTART- -X- -X- -X- O`, `token lemma POS chunk tag`, IOB1.

    Sentences of 7 tokens: line 22 is the third sentence's 4th token, `Düsseldorf` (ü is one latin-1 byte), the
    file's first non-ASCII character."""
    lines = ["-DOCSTART- -X- -X- -X- O", ""]
    for i in range(sentences):
        rows = [(("Düsseldorf",) * 2 + row[2:]) if i == 2 and row[0] == "Frankfurt" else row for row in GERMAN]
        lines += [" ".join(row) for row in rows] + [""]
    text = "\n".join(lines[:-1]) + tail
    path.write_bytes(text.encode("latin-1"))


def test_german_latin1_files_are_detected_and_logged(tmp_path, caplog):
    for name in ("deu.train", "deu.testa", "deu.testb"):
        write_german(tmp_path / name, sentences=3)
    assert (tmp_path / "deu.testb").read_bytes().split(b"\n")[21].startswith(b"D\xfcsseldorf")
    cfg = OmegaConf.merge(OmegaConf.load(CONF_DIR / "task" / "ner.yaml"),
                          {"data_dir": str(tmp_path), "setting": "train_each", "train_language": "de"})
    with caplog.at_level(logging.INFO):
        splits = ner.load_splits(cfg, ["de"], 0)
    sentence = splits.evals[("test", "de")][2]
    assert sentence.tokens[3] == "Düsseldorf" and sentence.tags[3] == "B-LOC"  # IOB1 I-LOC starting an entity
    assert len(splits.evals[("test", "de")]) == 3 and len(splits.train) == 3
    assert "deu.testb, line 22: not UTF-8; reading the file as latin-1" in caplog.text
    assert "deu.testb: read 3 sentences" in caplog.text
    assert "deu.testb: read 3 sentences, but the distributed file has 3005" in caplog.text

    cfg.encoding = "utf-8"
    with pytest.raises(UnicodeDecodeError, match=r"deu\.train, line 22: not utf-8"):
        ner.load_splits(cfg, ["de"], 0)


def test_a_file_cut_mid_row_is_reported(tmp_path, caplog):
    path = tmp_path / "deu.testa"
    write_german(path, sentences=2, tail="\nNordend <unknown> NN I-NC I-L")  # cut inside the last row
    with caplog.at_level(logging.INFO):
        with pytest.raises(Exception, match="unknown tag 'I-L'"):
            read_conll(path, scheme="iob1")
    assert "deu.testa, line 18: the file ends inside this line (no line end); it may be truncated" in caplog.text
    caplog.clear()
    write_german(path, sentences=2, tail="")  # cut at the end of a row: the tags still parse
    with caplog.at_level(logging.INFO):
        assert len(read_conll(path, scheme="iob1")) == 2
    assert "it may be truncated" in caplog.text and "but the distributed file has 2867" in caplog.text


def test_utf8_files_read_silently(tmp_path, caplog):
    path = tmp_path / "esp.testa"
    path.write_text("El DA O\nMadrid NC B-LOC\n\n", encoding="utf-8")
    with caplog.at_level(logging.INFO):
        (sentence,) = read_conll(path, scheme="iob2")
    assert sentence.tokens == ["El", "Madrid"] and "latin-1" not in caplog.text
    assert "ends inside this line" not in caplog.text
    assert "esp.testa: read 1 sentences, but the distributed file has 1915" in caplog.text


def test_xnli_distributed_tsvs_report_their_counts(tmp_path, caplog):
    header = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
              "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
              "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match"]
    rows = [[lang, label, "", "", "", "", f'"{lang}" premise', "hyp", "1", "2", "fiction", label, "", "", "", "",
             "", "", "True"] for lang in ("en", "fr") for label in ("neutral", "contradiction")]
    dev = tmp_path / "xnli.dev.tsv"
    dev.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    mt = tmp_path / "multinli.train.fr.tsv"
    mt.write_text("premise\thypo\tlabel\nIl pleut .\tIl fait beau .\tcontradictory\n", encoding="utf-8")
    with caplog.at_level(logging.INFO):
        assert [e.text_a for e in read_xnli_tsv(dev, language="fr")] == ['"fr" premise'] * 2
        assert [e.label for e in read_xnli_tsv(mt)] == ["contradiction"]
    assert "xnli.dev.tsv: read 4 XNLI examples (all languages), but the distributed file has 37350" in caplog.text
    assert "multinli.train.fr.tsv: read 1 XNLI examples, but the distributed file has 392702" in caplog.text


def squad_json(path, questions: int, version=None) -> None:
    qas = [{"question": f"q{i}?", "id": f"id{i}", "answers": [{"text": "Panthers", "answer_start": 4}]}
           for i in range(questions)]
    document = {"data": [{"title": "t", "paragraphs": [{"context": "Die Panthers gewannen.", "qas": qas}]}]}
    if version is not None:
        document["version"] = version
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def test_qa_json_reports_question_counts(tmp_path, caplog):
    squad_json(tmp_path / "xquad.de.json", 1190)  # XQuAD: no version key
    squad_json(tmp_path / "dev-context-de-question-de.json", 3, version=1.0)  # MLQA_V1
    with caplog.at_level(logging.INFO):
        assert len(read_squad_json(tmp_path / "xquad.de.json")) == 1190
        assert len(read_squad_json(tmp_path / "dev-context-de-question-de.json")) == 3
    assert "xquad.de.json: read 1190 questions" in caplog.text
    assert "xquad.de.json: read 1190 questions, but" not in caplog.text
    assert "dev-context-de-question-de.json: read 3 questions, but the distributed file has 512" in caplog.text
