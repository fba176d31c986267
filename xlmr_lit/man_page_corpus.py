"""The `scale=mini` corpus: Debian's man pages and their translations as plain text, in the CC-100 layout
(<lang>.txt, one document per man page, one paragraph per line, a blank line between documents).

The bundled UDHR text (~10 KB per language) is too little for a masked LM to learn word order: at tiny it
memorises which pieces each block holds (benchmarks/RESULTS.md section 15). Debian ships translated man pages
for en, fr, de, ru and zh, megabytes each, under free licences, from the same package mirror that `pip` and
`apt` reach. Languages without man pages (sw, ur) keep their UDHR text, so they are real low-resource
languages here, as in CC-100. zh holds manpages-zh's Simplified (zh_CN) and Traditional (zh_TW) pages alike, in
the package's order, up to MAX_MEGABYTES_PER_LANGUAGE, as the measurements of benchmarks/RESULTS.md section 16 read it.

    python -m xlmr_lit.man_page_corpus ~/.cache/xlmr_lit/man_pages     # downloads ~14 MB once, writes ~25 MB
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

from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.prepare import atomic_dir

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
}
UDHR_ONLY = ["sw", "ur"]  # xnli7's languages without translated man pages
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
        if not match or (match["locale"] or "en").split("_")[0] != lang:
            continue
        paragraphs = troff_paragraphs(gzip.decompress(data).decode("utf-8", errors="replace"))
        words = sum(len(p) // 2 if lang == "zh" else len(p.split()) for p in paragraphs)  # zh: 2 characters a word
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
    """<lang>.txt for each language of PACKAGES (at most MAX_MEGABYTES_PER_LANGUAGE) and of UDHR_ONLY."""
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
        for lang in UDHR_ONLY:
            path = language_file(BUNDLED_CORPUS_DIR, lang)
            docs = read_documents(path, ReadReport(path))
            (scratch / f"{lang}.txt").write_text("".join("\n".join(d) + "\n\n" for d in docs), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the corpus directory to write (data.corpus_dir)")
    parser.add_argument("--downloads", type=Path, help="where the .deb files are kept (default: OUT/../debs)")
    args = parser.parse_args(argv)
    out = args.out.expanduser()
    if out.is_dir():
        print(f"{out} exists; nothing to do", file=sys.stderr)
        return
    write_corpus(out, (args.downloads or out.parent / "debs").expanduser())
    for path in sorted(out.iterdir()):
        print(f"{path}  {path.stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
