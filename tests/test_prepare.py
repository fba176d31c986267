import gzip
import lzma
import os
import subprocess
import sys

import numpy as np
import pytest

from xlmr_lit import prepare
from xlmr_lit.corpus import CorpusError, check_languages, language_file, resolve_languages
from xlmr_lit.languages import BUNDLED_CORPUS_DIR, XLMR_LANGUAGES
from xlmr_lit.prepare import prepare_corpus
from xlmr_lit.pretrain import valid_pieces_per_char, valid_unk_share
from xlmr_lit.tokenizer import EOS_ID, UNK_ID, VocabularyTooLargeError, XLMRTokenizer

KNOWN = set(XLMR_LANGUAGES)
ALPHABETS = {"en": "abcdefghijklmnopqrstuvwxyz", "sw": "abdefghijklmnoprstuvwyz", "ru": "абвгдежзийклмнопрстуфхцчшщыэюя"}


def vocabulary(lang: str, size: int = 400) -> list[str]:
    rng = np.random.default_rng(len(lang) + ord(lang[0]))
    letters = list(ALPHABETS[lang])
    return ["".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(size)]


WORDS = {lang: vocabulary(lang) for lang in ALPHABETS}


def write_corpus(directory, lang, n_docs=30, suffix=".txt", seed=0):
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        zipf = np.minimum(rng.zipf(1.3, (4, 12)), len(WORDS[lang])) - 1
        lines = [" ".join(WORDS[lang][i] for i in row) for row in zipf]
        docs.append("\n".join(lines))
    text = ("\n\n".join(docs) + "\n").encode()
    path = directory / f"{lang}{suffix}"
    opener = {".txt": open, ".txt.gz": gzip.open, ".txt.xz": lzma.open}[suffix]
    with opener(path, "wb") as f:
        f.write(text)
    return path


def run_prepare(corpus_dir, languages, cache, **kw):
    args = dict(
        spm_path=None, vocab_size=200, sample_lines=2000, character_coverage=1.0, alpha=0.3, seed=0,
        valid_every=10, valid_max_tokens=10_000, num_proc=1, skip_undecodable=True,
    )
    return prepare_corpus(corpus_dir, languages, cache, **{**args, **kw})


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    write_corpus(d, "en")
    write_corpus(d, "sw", suffix=".txt.gz")
    write_corpus(d, "ru", suffix=".txt.xz")
    return d


def test_shards_hold_every_line_followed_by_eos(corpus, tmp_path):
    prepared = run_prepare(corpus, ["en", "sw", "ru"], tmp_path / "cache")
    tok = XLMRTokenizer(prepared.tokenizer_path)
    assert tok.vocab_size == 200 and tok.mask_id == 199
    for lang, shard in zip(prepared.languages, prepared.shard_dirs):
        train = np.fromfile(shard / "train.bin", dtype=np.int32)
        valid = np.fromfile(shard / "valid.bin", dtype=np.int32)
        info = prepared.info(lang)
        assert info["train_tokens"] == len(train) and info["valid_tokens"] == len(valid) > 0
        assert info["documents"] == 30 and info["lines"] == 120
        both = np.concatenate([valid, train])
        assert (both == EOS_ID).sum() == 120  # one </s> per line
        first_line = both[: np.flatnonzero(both == EOS_ID)[0]]
        assert tok.decode(first_line.tolist()).split()[0] in WORDS[lang]
        assert both.min() >= 2 and both.max() < tok.mask_id
        # the validation text's characters and lines, which put the validation loss per character
        path = language_file(corpus, lang)
        opener = {".txt": open, ".gz": gzip.open, ".xz": lzma.open}[path.suffix]
        with opener(path, "rt", encoding="utf-8") as f:
            docs = [doc.split("\n") for doc in f.read().strip().split("\n\n")]
        assert info["valid_lines"] == 12 == (valid == EOS_ID).sum()  # documents 0, 10 and 20 (valid_every=10)
        assert info["valid_chars"] == sum(len(line) for doc in docs[::10] for line in doc)
        assert valid_pieces_per_char(info) == (len(valid) - 12) / info["valid_chars"]


def test_cache_is_reused_and_keyed_by_settings(corpus, tmp_path):
    cache = tmp_path / "cache"
    first = run_prepare(corpus, ["en", "sw"], cache)
    stamp = first.tokenizer_path.stat().st_mtime_ns
    again = run_prepare(corpus, ["en", "sw"], cache)
    assert again.tokenizer_path == first.tokenizer_path and again.tokenizer_path.stat().st_mtime_ns == stamp
    other = run_prepare(corpus, ["en", "sw"], cache, vocab_size=190)
    assert other.tokenizer_path != first.tokenizer_path
    assert other.shard_dirs != first.shard_dirs  # shards depend on the tokenizer


def test_a_complete_cache_still_loses_a_killed_runs_scratch(corpus, tmp_path):
    """Scratch dirs of dead processes are removed at the next start even when every entry is cached by then."""
    cache = tmp_path / "cache"
    run_prepare(corpus, ["en"], cache)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [cache / kind / f".xx.tmp-{prepare.HOST}-{dead.pid}-deadbeef" for kind in ("shards", "tokenizers")]
    live = cache / "shards" / f".yy.tmp-{prepare.HOST}-{os.getpid()}-cafecafe"  # this process still runs
    for path in [*stale, live]:
        path.mkdir()
    run_prepare(corpus, ["en"], cache)
    assert not any(p.exists() for p in stale) and live.is_dir()


def test_failed_run_leaves_cache_untouched(corpus, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    good = run_prepare(corpus, ["en"], cache)
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prepare.XLMRTokenizer, "encode_lines", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_prepare(corpus, ["en", "ru"], cache, spm_path=good.tokenizer_path)
    after = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    assert after == before  # nothing half-written, nothing changed
    assert not [p for p in cache.rglob(".*tmp*")]


def test_missing_language_file_names_the_file_and_directory(corpus):
    with pytest.raises(CorpusError, match=r"has no text for \['fr'\].*<lang>.txt"):
        check_languages(corpus, ["en", "fr"], KNOWN, skip_missing=False)
    assert check_languages(corpus, ["en", "fr"], KNOWN, skip_missing=True) == ["en"]
    with pytest.raises(CorpusError, match=f"no text for language 'fr' in {corpus}"):
        language_file(corpus, "fr")


def test_unknown_language_code_and_set_name():
    with pytest.raises(CorpusError, match=r"unknown language code\(s\) \['xx'\]"):
        check_languages(BUNDLED_CORPUS_DIR, ["en", "xx"], KNOWN, skip_missing=False)
    with pytest.raises(CorpusError, match="data.languages='xnli99' is not a language set; known sets: xnli7"):
        resolve_languages("xnli99")


def test_empty_file_is_an_error_naming_it(corpus, tmp_path):
    (corpus / "ru.txt.xz").unlink()
    (corpus / "ru.txt").write_text("\n\n  \n")
    with pytest.raises(CorpusError, match=r"ru\.txt: no text"):
        run_prepare(corpus, ["en", "ru"], tmp_path / "cache")


def test_undecodable_lines_are_skipped_and_counted_or_rejected(corpus, tmp_path, caplog):
    path = corpus / "en.txt"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"caf\xe9 \xff broken"
    path.write_bytes(b"\n".join(lines))
    prepared = run_prepare(corpus, ["en"], tmp_path / "cache")
    info = prepared.info("en")
    assert info["undecodable_lines"] == 1 and info["lines"] == 119
    assert "skipped 1 lines that are not valid UTF-8 (lines 3" in info["undecodable_summary"]
    with pytest.raises(CorpusError, match=r"en\.txt, line 3: not valid UTF-8"):
        run_prepare(corpus, ["en"], tmp_path / "cache2", skip_undecodable=False)


def test_vocabulary_larger_than_text_supports(corpus, tmp_path):
    with pytest.raises(VocabularyTooLargeError, match=r"tokenizer.vocab_size=5000 is more than the text supports.*at most \d+"):
        run_prepare(corpus, ["en"], tmp_path / "cache", vocab_size=5000)
    assert not list((tmp_path / "cache" / "tokenizers").glob("[!.]*"))


def test_existing_sentencepiece_model_is_used_as_is(corpus, tmp_path):
    trained = run_prepare(corpus, ["en"], tmp_path / "cache").tokenizer_path
    reused = run_prepare(corpus, ["en", "ru"], tmp_path / "cache", spm_path=trained, vocab_size=0)
    assert reused.tokenizer_path == trained
    # the English tokenizer does not cover Cyrillic: the Russian shard counts its <unk> pieces, so that the
    # pretraining panel can leave out a loss that only measures predicting <unk>
    for lang, shard in zip(reused.languages, reused.shard_dirs):
        valid = np.fromfile(shard / "valid.bin", dtype=np.int32)
        assert reused.info(lang)["valid_unk"] == (valid == UNK_ID).sum()
    assert valid_unk_share(reused.info("en")) == 0 and valid_unk_share(reused.info("ru")) > 0.3
    with pytest.raises(FileNotFoundError, match="tokenizer.spm_path=.*nope.model"):
        run_prepare(corpus, ["en"], tmp_path / "cache", spm_path=tmp_path / "nope.model")


def test_parallel_workers_give_the_same_shards(corpus, tmp_path, monkeypatch):
    import xlmr_lit.prepare

    monkeypatch.setattr(xlmr_lit.prepare, "PARALLEL_MIN_BYTES", 0)  # the test corpus is too small to start workers
    one = run_prepare(corpus, ["en", "sw", "ru"], tmp_path / "a")
    two = run_prepare(corpus, ["en", "sw", "ru"], tmp_path / "b", num_proc=2)
    for a, b in zip(one.shard_dirs, two.shard_dirs):
        assert (a / "train.bin").read_bytes() == (b / "train.bin").read_bytes()
    first, second = (XLMRTokenizer(prepared.tokenizer_path).sp for prepared in (one, two))
    assert [first.id_to_piece(i) for i in range(len(first))] == [second.id_to_piece(i) for i in range(len(second))]


def test_bpe_tokenizer_is_a_separate_cache_entry(corpus, tmp_path):
    unigram = run_prepare(corpus, ["en", "sw"], tmp_path / "cache")
    bpe = run_prepare(corpus, ["en", "sw"], tmp_path / "cache", model_type="bpe")
    assert bpe.tokenizer_path != unigram.tokenizer_path
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(bpe.tokenizer_path.read_bytes())
    assert proto.trainer_spec.model_type == model_pb2.TrainerSpec.BPE
    assert XLMRTokenizer(bpe.tokenizer_path).vocab_size == 200


def _pid(_path, _shared) -> int:
    return os.getpid()


def test_worker_processes_only_for_much_text_counted_once_and_never_beside_sibling_points(tmp_path, monkeypatch):
    shared = tmp_path / "spm.model"  # every language's job names the tokenizer: counted once, not per language
    shared.write_bytes(b"x" * 600)
    texts = [tmp_path / f"{lang}.txt" for lang in ("en", "fr", "sw")]
    for text in texts:
        text.write_text("ten bytes\n")
    jobs = [(text, shared) for text in texts]
    monkeypatch.setattr(prepare, "PARALLEL_MIN_BYTES", 1000)
    assert prepare._map(_pid, jobs, 2, "test") == [os.getpid()] * 3  # 630 bytes of files
    monkeypatch.setattr(prepare, "PARALLEL_MIN_BYTES", 100)
    assert os.getpid() not in prepare._map(_pid, jobs, 2, "test")  # spawned workers
    monkeypatch.setattr(prepare, "points_at_once", lambda: 2)  # a joblib worker cannot spawn
    assert prepare._map(_pid, jobs, 2, "test") == [os.getpid()] * 3
