"""The `scale=mini` corpus: Debian's man pages and their translations as plain text, in the CC-100 layout
(<lang>.txt, one document per man page, one paragraph per line, a blank line between documents).

The bundled UDHR text (~10 KB per language) is too little for a masked LM to learn from: at tiny it
memorises which pieces each block holds (benchmarks/RESULTS.md section 15). Debian ships man pages translated into
21 of XLM-R's languages (en, fr, de, ru, zh; es, el, tr, vi of xnli15; 12 more of lang30), 0.1-6 MB each, under
free licences, from the same package mirror that `pip` and `apt` reach. Every other bundled language keeps its
UDHR text (sw and ur of xnli7 among them), so those are real low-resource languages here, as in CC-100.
zh holds manpages-zh's Simplified (zh_CN) and Traditional (zh_TW) pages alike, in the package's order, up to
MAX_MEGABYTES_PER_LANGUAGE; pt is Brazilian Portuguese, no is Bokmål.

    python -m xlmr_lit.man_page_corpus ~/.cache/xlmr_lit/man_pages     # downloads ~26 MB once, writes ~40 MB
"""

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

from xlmr_lit.corpus import ReadReport, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.prepare import atomic_dir
from xlmr_lit.tasks.udhr_standins import UNSPACED_LANGUAGES

MIRROR = "http://deb.debian.org/debian/"  # Debian 12 (bookworm); snapshot.debian.org keeps every version
# language: [(pool path, sha256)]; the man pages of every package, in the language's directory of usr/share/man
PACKAGES = {
    "en": [("pool/main/m/manpages/manpages_6.03-2_all.deb",
            "efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91"),
           ("pool/main/m/manpages/manpages-dev_6.03-2_all.deb",
            "96f55cb5e26231d5567c89b692bced63825a14a2d5bd18fdf16ea2ed44eb9838")],
    "de": [("pool/main/m/manpages-l10n/manpages-de_4.18.1-1_all.deb",
            "37d2e7ee51f22952aecec3af93647ff59194a3c74bb7a694560f49c7f7ab3978")],
    "fr": [("pool/main/m/manpages-l10n/manpages-fr_4.18.1-1_all.deb",
            "ec29759cc0e4a44dc7719c1e32869d0060667049e584f09556f0d982b969ea33")],
    "ru": [("pool/main/m/manpages-l10n/manpages-ru_4.18.1-1_all.deb",
            "5d5821dad5840652ba9c1c6b85bdc785c1fc52148a71c18fab6658c9659244c0")],
    "zh": [("pool/main/m/manpages-zh/manpages-zh_1.6.4.0-1_all.deb",
            "81bae29495f6445db290e3f329f1203eb19b651c2a7ea165b74ebdc853a32ac1")],
    # the other languages of xnli15 and lang30 that Debian has man pages in (Fig. 2 at mini)
    "es": [("pool/main/m/manpages-l10n/manpages-es_4.18.1-1_all.deb",
            "d21e9f85e487f149ae45b5c525b2b1a70ae7fd38d4b05b47c8753042c66f4c2b")],
    "el": [("pool/main/m/manpages-l10n/manpages-el_4.18.1-1_all.deb",
            "79ae710057edfd437a6fcdbf27ed8a1a3e29ae785730282313ed31ff3f93a95d")],
    "tr": [("pool/main/m/manpages-tr/manpages-tr_2.0.6-2_all.deb",
            "babf3ded00dd7c30db8fb333c1ff482fd5a52483d2bffec7557e3f78ed77eef1")],
    "vi": [("pool/main/m/manpages-l10n/manpages-vi_4.18.1-1_all.deb",
            "c3fb89f768663013c87babcad3fdd525588edb2c9a91a9d1c74dc33c1a6ee73b")],
    "id": [("pool/main/m/manpages-l10n/manpages-id_4.18.1-1_all.deb",
            "b769b5398ecffe6db6e4170973a081bbd905e254ce768b34650ec1d1fb7ae9c2")],
    "uk": [("pool/main/m/manpages-l10n/manpages-uk_4.18.1-1_all.deb",
            "7ad64b12010584a6cc10a341ba561a6774e8493166524f386bcd9fd7cbebdd5b")],
    "sv": [("pool/main/m/manpages-l10n/manpages-sv_4.18.1-1_all.deb",
            "12b386ce4e11fadf3c05b55a813c81df129d244606ba3383da586d39a4a8cca4")],
    "ja": [("pool/main/m/manpages-ja/manpages-ja_0.5.0.0.20221215+dfsg-1_all.deb",
            "4d270e9a1e83be4de0c072a110892a17dc9caa4b501257324006ac28d82c5743")],
    "ro": [("pool/main/m/manpages-l10n/manpages-ro_4.18.1-1_all.deb",
            "1d1d32dbc090850c1e796fd51156ae3852e1cc46a22d712493800182817f6024")],
    "hu": [("pool/main/m/manpages-l10n/manpages-hu_4.18.1-1_all.deb",
            "f4f4556a25194958d08fe9c87c946294a1ad4bd2b265bdc71d9ae1883e5ea2cf")],
    "fi": [("pool/main/m/manpages-l10n/manpages-fi_4.18.1-1_all.deb",
            "a0491e7141cd540896388fd3d4f394fa96657838780bf7f213eb5e529b0880dd")],
    "pt": [("pool/main/m/manpages-l10n/manpages-pt-br_4.18.1-1_all.deb",
            "da971a7bc0107f7b74b4ae592d1d7cc6424fa7e77cc1808f5c110a07edaf3890")],
    "no": [("pool/main/m/manpages-l10n/manpages-nb_4.18.1-1_all.deb",
            "62f43554a179199b9cb95ecdf390f81e2eb779ff3f535c6b944ce0a647f15bb3")],
    "da": [("pool/main/m/manpages-l10n/manpages-da_4.18.1-1_all.deb",
            "977b0dee2ab0d0315cc8f0864dd1c89473ece240033e1651a1c23a62e66afff4")],
    "pl": [("pool/main/m/manpages-l10n/manpages-pl_4.18.1-1_all.deb",
            "31e518ea8331b5204d4fd0032037f96af1ba94a5afa4f0585dca1996b270cdf9")],
    "it": [("pool/main/m/manpages-l10n/manpages-it_4.18.1-1_all.deb",
            "4b18e87cc1b6a930d40949ddc86fb8e84b50da1a862cd17e2a504eeb8e3b4e48")],
}
LOCALES = {"no": "nb"}  # the man page directory's language where it is not the XLM-R code (pt: pt_BR)
CORPUS_VERSION = "2"  # written to OUT/VERSION; a corpus of another version is refused, not silently reused
MAN_DIR = re.compile(r"usr/share/man/(?:(?P<locale>[a-zA-Z_]+)/)?man[0-9n]\w*/[^/]+\.gz$")
MIN_WORDS = 30  # a page with fewer words is a stub (".so other_page") or an option list
MAX_MEGABYTES_PER_LANGUAGE = 6  # German has 20 MB of pages; more than this only lengthens preparation

# troff: requests whose arguments are text (headings, fonts), requests that start a paragraph, escapes
TEXT_REQUESTS = {"SH", "SS", "B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB", "UR", "MT", "IP", "TQ"}
HEADINGS = {"SH", "SS"}  # a paragraph of their own
BREAK_REQUESTS = {"SH", "SS", "PP", "LP", "P", "TP", "IP", "TQ", "HP", "sp", "br", "RS", "RE", "nf", "fi", "EX", "EE"}
NAMED_CHARACTERS = {"em": "—", "en": "–", "aq": "'", "dq": '"', "lq": "“", "rq": "”", "oq": "‘", "cq": "’",
                    "hy": "-", "ti": "~", "bu": "•", "co": "©", "rg": "®", "mu": "×", "<=": "≤", ">=": "≥"}
ESCAPE = re.compile(r"\\(?:f(?:\(..|\[[^]]*]|.)|\((..)|\[([^]]*)]|\*(?:\(..|\[[^]]*]|.)|s[-+]?\d+|[-e&|^/,%:~ c0])")


def unescape(text: str) -> str:
    """`text` without troff's inline escapes: fonts and sizes dropped, named characters and `\\-` kept."""
    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name is not None:
            return NAMED_CHARACTERS.get(name, "")
        return {"\\-": "-", "\\e": "\\", "\\ ": " ", "\\~": " "}.get(m.group(0), "")
    return ESCAPE.sub(replace, text)


def troff_paragraphs(source: str) -> list[str]:
    """The running text of a man page's troff source, one paragraph per item; tables, comments and
    macro definitions dropped."""
    paragraphs, current, skipping = [], [], None
    for line in source.splitlines():
        if skipping:
            if line.startswith(skipping):
                skipping = None
            continue
        if line.startswith((".TS", ".de", ".ig")):
            skipping = {".TS": ".TE", ".de": "..", ".ig": ".."}[line[:3]]
            continue
        if line.startswith((".", "'")):
            request, _, args = line[1:].strip().partition(" ")
            if request in BREAK_REQUESTS and current:
                paragraphs.append(" ".join(current))
                current = []
            if request in TEXT_REQUESTS and args:
                current.append(args.replace('"', ""))
            if request in HEADINGS and current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if not line.strip():
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    out = [" ".join(unescape(p).split()) for p in paragraphs]
    return [p for p in out if p]


def deb_data_members(deb: bytes):
    """(path, bytes) of each file in a .deb's data.tar.* (an `ar` archive holding a compressed tar)."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar header)")
    at = 8
    while at + 60 <= len(deb):
        name, size = deb[at : at + 16].decode().strip().rstrip("/"), int(deb[at + 48 : at + 58])
        body = deb[at + 60 : at + 60 + size]
        at += 60 + size + size % 2
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for member in tar:
                    if member.isfile():
                        yield member.name.lstrip("./"), tar.extractfile(member).read()
            return
    raise ValueError("no data.tar member in the Debian package")


def man_pages(deb: bytes, lang: str) -> list[list[str]]:
    """The paragraphs of each man page in the package that is in `lang` (en: the untranslated ones)."""
    pages = []
    for path, data in deb_data_members(deb):
        match = MAN_DIR.search(path)
        if not match or (match["locale"] or "en").split("_")[0] != LOCALES.get(lang, lang):
            continue
        paragraphs = troff_paragraphs(gzip.decompress(data).decode("utf-8", errors="replace"))
        words = sum(len(p) // 2 if lang in UNSPACED_LANGUAGES else len(p.split()) for p in paragraphs)  # 2 chars a word
        if words >= MIN_WORDS:
            pages.append(paragraphs)
    return pages


def download(pool_path: str, sha256: str, downloads: Path) -> bytes:
    path = downloads / Path(pool_path).name
    if not path.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        print(f"downloading {MIRROR}{pool_path}", file=sys.stderr)
        with urllib.request.urlopen(MIRROR + pool_path, timeout=120) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{MIRROR}{pool_path}: sha256 {hashlib.sha256(data).hexdigest()}, expected {sha256}")
        path.with_suffix(".part").write_bytes(data)
        path.with_suffix(".part").replace(path)
    return path.read_bytes()


def write_corpus(out: Path, downloads: Path) -> None:
    """<lang>.txt for each language of PACKAGES (at most MAX_MEGABYTES_PER_LANGUAGE), the bundled UDHR text for every
    other bundled language, and VERSION."""
    with atomic_dir(out) as scratch:
        for lang, packages in PACKAGES.items():
            text, budget = [], MAX_MEGABYTES_PER_LANGUAGE * 2**20
            for pool_path, sha256 in packages:
                for page in man_pages(download(pool_path, sha256, downloads), lang):
                    document = "\n".join(page) + "\n\n"
                    budget -= len(document.encode())
                    if budget < 0:
                        break
                    text.append(document)
            (scratch / f"{lang}.txt").write_text("".join(text), encoding="utf-8")
        for path in sorted(BUNDLED_CORPUS_DIR.glob("*.txt.xz")):
            lang = path.name.removesuffix(".txt.xz")
            if lang not in PACKAGES:
                docs = read_documents(path, ReadReport(path))
                (scratch / f"{lang}.txt").write_text("".join("\n".join(d) + "\n\n" for d in docs), encoding="utf-8")
        (scratch / "VERSION").write_text(CORPUS_VERSION + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the corpus directory to write (data.corpus_dir)")
    parser.add_argument("--downloads", type=Path, help="where the .deb files are kept (default: OUT/../debs)")
    args = parser.parse_args(argv)
    out = args.out.expanduser()
    if out.is_dir():
        version = (out / "VERSION").read_text().strip() if (out / "VERSION").is_file() else "1"
        if version != CORPUS_VERSION:
            raise SystemExit(f"{out} holds version {version} of this corpus, this is version {CORPUS_VERSION}: "
                             f"remove it (or write to another directory) and run again")
        print(f"{out} exists; nothing to do", file=sys.stderr)
        return
    write_corpus(out, (args.downloads or out.parent / "debs").expanduser())
    for path in sorted(out.glob("*.txt")):
        if path.stem in PACKAGES:
            print(f"{path}  {path.stat().st_size / 2**20:.1f} MB")
    print(f"and the bundled UDHR text of {len(list(out.glob('*.txt'))) - len(PACKAGES)} other languages")


if __name__ == "__main__":
    main()
