"""The scale=mini corpus builder on generated Debian packages in the real layout (ar archive, data.tar.xz, gzipped
troff under usr/share/man/<locale>/manN/)."""

import gzip
import io
import tarfile

import pytest

from xlmr_lit import man_page_corpus
from xlmr_lit.corpus import ReadReport, read_documents
from xlmr_lit.man_page_corpus import man_pages, troff_paragraphs, write_corpus

PAGE = r""".\" Copyright notice, a comment
.TH LS 1 2023 "GNU coreutils"
.SH NAME
ls \- list directory contents
.SH DESCRIPTION
List information about the \fIFILE\fRs (the current directory by default).
Sort entries alphabetically if none of \fB\-cftuvSUX\fP nor \fB\-\-sort\fR is specified.
.PP
Mandatory arguments to long options are mandatory for short options too.
.TS
tab(:);
l l.
a:b
.TE
.TP
.B \-a
do not ignore entries starting with \(aq.\(aq \(em ever
"""


def test_troff_paragraphs_keep_the_running_text_and_drop_markup():
    assert troff_paragraphs(PAGE) == [
        "NAME",
        "ls - list directory contents",
        "DESCRIPTION",
        "List information about the FILEs (the current directory by default). "
        "Sort entries alphabetically if none of -cftuvSUX nor --sort is specified.",
        "Mandatory arguments to long options are mandatory for short options too.",
        "-a do not ignore entries starting with '.' — ever",
    ]


def make_deb(files: dict[str, str]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        for path, text in files.items():
            body = gzip.compress(text.encode())
            info = tarfile.TarInfo(f"./{path}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    out = b"!<arch>\n"
    for name, body in [("debian-binary", b"2.0\n"), ("control.tar.xz", b"x" * 3), ("data.tar.xz", data.getvalue())]:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode() + body + b"\n" * (len(body) % 2)
    return out


LONG_PAGE = ".TH X 1\n.SH NAME\nx \\- a tool\n.SH DESCRIPTION\n" + " ".join(["word"] * 40) + "\n"


def test_man_pages_of_a_package_by_locale():
    deb = make_deb({"usr/share/man/man1/x.1.gz": LONG_PAGE,
                    "usr/share/man/de/man1/y.1.gz": LONG_PAGE.replace("word", "Wort"),
                    "usr/share/man/de/man1/stub.1.gz": ".so man1/y.1\n",
                    "usr/share/doc/x/changelog.gz": "not a page"})
    german = man_pages(deb, "de")
    assert len(german) == 1 and "Wort Wort" in german[0][-1]  # the stub is too short to keep
    assert man_pages(make_deb({"usr/share/man/nb/man1/n.1.gz": LONG_PAGE}), "no")  # Bokmål pages are XLM-R's no
    assert len(man_pages(deb, "en")) == 1 and "word word" in man_pages(deb, "en")[0][-1]
    with pytest.raises(ValueError, match="not a Debian package"):
        man_pages(b"PK\x03\x04 a zip file", "de")


def test_write_corpus_reads_the_cc100_layout_and_keeps_udhr_for_languages_without_pages(tmp_path, monkeypatch):
    downloads = tmp_path / "debs"
    downloads.mkdir()
    (downloads / "manpages-de_1_all.deb").write_bytes(
        make_deb({f"usr/share/man/de/man1/p{i}.1.gz": LONG_PAGE.replace("word", f"Wort{i}") for i in range(3)}))
    monkeypatch.setattr(man_page_corpus, "PACKAGES", {"de": [("pool/main/m/manpages-l10n/manpages-de_1_all.deb", "0")]})
    write_corpus(tmp_path / "corpus", downloads)  # already downloaded: no network
    docs = list(read_documents(tmp_path / "corpus" / "de.txt", ReadReport(tmp_path / "corpus" / "de.txt")))
    assert len(docs) == 3 and docs[2][-1].startswith("Wort2 Wort2")
    swahili = (tmp_path / "corpus" / "sw.txt").read_text()
    assert "haki" in swahili.lower() and not list(tmp_path.glob(".corpus.tmp-*"))
    assert "Menschenrechte" not in (tmp_path / "corpus" / "de.txt").read_text()  # de: its pages, not its UDHR text
    assert len(list((tmp_path / "corpus").glob("*.txt"))) == 91  # every bundled language
    man_page_corpus.main([str(tmp_path / "corpus")])  # the same version: nothing to do
    (tmp_path / "corpus" / "VERSION").write_text("1\n")
    with pytest.raises(SystemExit, match="holds version 1 of this corpus, this is version"):
        man_page_corpus.main([str(tmp_path / "corpus")])


def test_scale_mini_without_its_corpus_says_how_to_write_it(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    from xlmr_lit.cli import CONF_DIR
    from xlmr_lit.config_checks import ConfigError, check_config

    monkeypatch.setenv("XLMR_LIT_CACHE", str(tmp_path))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["scale=mini", "paths.run_dir=x"])
    assert cfg.scale_name == "mini" and cfg.model.hidden_size == 128 and cfg.downstream.udhr_standin
    assert cfg.model.hidden_dropout_prob == 0 and cfg.downstream.dropout == 0.1  # pretrained without, fine-tuned with
    assert cfg.downstream.max_train_examples is None  # tiny caps the stand-ins' training sets; mini reads all
    with pytest.raises(ConfigError, match=r"data.corpus_dir=.*man_pages.*python -m xlmr_lit.man_page_corpus"):
        check_config(cfg)
    (tmp_path / "man_pages").mkdir()
    for lang in ("en", "fr", "de", "ru", "zh", "sw", "ur"):
        (tmp_path / "man_pages" / f"{lang}.txt").write_text("some text\n")
    check_config(cfg)


def test_download_checks_the_sha256_and_keeps_only_a_verified_file(tmp_path, monkeypatch):
    import hashlib

    mirror = tmp_path / "mirror"
    (mirror / "pool").mkdir(parents=True)
    (mirror / "pool" / "p_1_all.deb").write_bytes(b"package bytes")
    monkeypatch.setattr(man_page_corpus, "MIRROR", mirror.as_uri() + "/")  # urllib reads file:// as it reads http://
    with pytest.raises(ValueError, match=r"p_1_all.deb: sha256 .*, expected 0000"):
        man_page_corpus.download("pool/p_1_all.deb", "0000", tmp_path / "debs")
    assert not list((tmp_path / "debs").iterdir())
    good = hashlib.sha256(b"package bytes").hexdigest()
    assert man_page_corpus.download("pool/p_1_all.deb", good, tmp_path / "debs") == b"package bytes"
    assert [p.name for p in (tmp_path / "debs").iterdir()] == ["p_1_all.deb"]
