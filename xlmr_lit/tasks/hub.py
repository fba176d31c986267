"""The fine-tuning benchmarks on the HF hub: where each split lives and the one call that reads it.

Every split is read with `datasets.load_dataset(repo, config, split=...)`, as the repository's card
declares its configs. Two cases add `data_files={split: pattern}`, the split's own parquet files:
- XNLI, so that a language that is only evaluated never downloads its 392k-row training set
  (`load_dataset` prepares every split of a config, whichever `split` is asked for), and MLQA likewise;
- script datasets, which `datasets` >= 4 refuses to run: they are read from the parquet conversion
  the hub keeps on their `refs/convert/parquet` revision, which has no card and keeps each of the
  script's configs as a folder `<config>/<split>/NNNN.parquet`.

`hub_dir` (a task's `task.hub_dir`) reads local copies instead: `<hub_dir>/<owner>/<name>` for the
main branch, `<hub_dir>/<owner>/<name>@<revision>` (the revision URL-quoted, as in `hf://` paths)
for another revision, e.g. from `hf download eriktks/conll2003 --repo-type dataset --revision
refs/convert/parquet --local-dir '<hub_dir>/eriktks/conll2003@refs%2Fconvert%2Fparquet'`.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

PARQUET_CONVERSION = "refs/convert/parquet"


@dataclass(frozen=True)
class HubSplit:
    """One split of a dataset repository on the HF hub."""

    repo: str
    config: str | None
    split: str
    data_files: str | None = None  # the split's files, a glob inside the repository at `revision`
    revision: str | None = None

    def __str__(self) -> str:
        where = "/".join(["hf:" + self.repo, *([self.config] if self.config else []), self.split])
        return where + (f"@{self.revision}" if self.revision else "")

    def local_copy(self, hub_dir: str | Path) -> Path:
        """Where a local copy of the repository at `revision` lives under hub_dir."""
        name = self.repo if self.revision is None else f"{self.repo}@{quote(self.revision, safe='')}"
        return Path(hub_dir).expanduser() / name

    def load(self, hub_dir: str | Path | None = None):
        """The split as a `datasets.Dataset`; from its local copy under `hub_dir` instead of the hub when given."""
        import datasets

        path = self.repo if hub_dir is None else str(self.local_copy(hub_dir))
        data_files = None if self.data_files is None else {self.split: self.data_files}
        rows = datasets.load_dataset(path, self.config, split=self.split, data_files=data_files, revision=self.revision)
        log.info("%s: read %d rows", self, len(rows))
        return rows


# facebook/xnli: parquet on main, one config per language, splits train/validation/test
def xnli_split(repo: str, lang: str, split: str) -> HubSplit:
    return HubSplit(repo, lang, split, f"{lang}/{split}-*.parquet")


# nyu-mll/glue: parquet on main, one config per task; MNLI has validation_matched/_mismatched
def glue_split(repo: str, task: str, split: str) -> HubSplit:
    return HubSplit(repo, task, split)


CONLL2003 = "eriktks/conll2003"  # a script dataset: read its parquet conversion
CONLL2002 = "eriktks/conll2002"  # the same, with languages es and nl as the conversion's folders
WIKIANN = "unimelb-nlp/wikiann"  # parquet on main, one config per language


def ner_split(lang: str, split: str) -> HubSplit:
    """CoNLL-2003 English, CoNLL-2002 Spanish and Dutch, or WikiANN (PAN-X) for any other language."""
    if lang == "en":
        return HubSplit(CONLL2003, None, split, f"conll2003/{split}/*.parquet", PARQUET_CONVERSION)
    if lang in ("es", "nl"):
        return HubSplit(CONLL2002, None, split, f"{lang}/{split}/*.parquet", PARQUET_CONVERSION)
    return HubSplit(WIKIANN, lang, split)


SQUAD = "rajpurkar/squad"  # parquet on main, config plain_text, splits train/validation
# MLQA from XTREME's copy: parquet on main, configs MLQA.<context lang>.<question lang> (the card's `configs`), files
# MLQA.<c>.<q>/{validation,test}-00000-of-00001.parquet; facebook/mlqa's main branch is a loading script and no
# public listing shows its refs/convert/parquet folders
MLQA = "google/xtreme"
XQUAD = "google/xquad"  # parquet on main, configs xquad.<lang>, one split: validation


def squad_split(split: str) -> HubSplit:
    return HubSplit(SQUAD, "plain_text", split)


def mlqa_split(lang: str, split: str) -> HubSplit:
    """Context and question in `lang`; `data_files` reads only this split (a config holds validation and test)."""
    config = f"MLQA.{lang}.{lang}"
    return HubSplit(MLQA, config, split, f"{config}/{split}-*.parquet")


def xquad_split(lang: str) -> HubSplit:
    return HubSplit(XQUAD, f"xquad.{lang}", "validation")
