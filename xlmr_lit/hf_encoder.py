"""Fine-tuning any transformers encoder (mBERT, XLM-100, ...) on our tasks, for the paper's baseline rows.

`model.init=hf:<dir or hub id>` whose config.json has a `model_type` other than `xlm-roberta` comes here;
XLM-R stays on our own encoder and SentencePiece tokenizer (xlmr_lit/model.py, tokenizer.py). The encoder is
transformers' `AutoModel` with our task heads on top (the same heads, under the same names, as XLM-R's), and
the examples are featurized with the model's own tokenizer (`AutoTokenizer`) into the same feature columns,
plus what the model needs besides ids and mask:
- BERT: `token_type_ids`, 1 on the second text of a pair (question and context: the context);
- XLM: `langs`, each example's language id (config.json's lang2id), when the model has language
  embeddings (`use_lang_emb` with n_langs > 1: XLM-15 `xlm-mlm-tlm-xnli15-1024`; not XLM-100
  `xlm-mlm-100-1280` or XLM-17, which were pretrained without them).
BERT's pretrained pooler (dense + tanh on [CLS]) is what our classification head's dense + tanh do: its weights
start that head, as in transformers' BertForSequenceClassification; the other tasks drop it.

Character offsets for QA: a fast tokenizer's offset_mapping; a tokenizer without one (XLM's is Python-only)
gives each piece the span of the word it comes from (words split on whitespace, each CJK character a word of
its own), so an answer is a run of whole words, as in BERT's and XTREME's SQuAD code. XLM's tokenizer runs Moses
with its default (English) rules for every language, as transformers does when not told the language.

transformers (and, for XLM's tokenizer, sacremoses) must be installed: `pip install xlmr-lit[hf]`.
"""

import json
import re
from pathlib import Path

import torch
import torch.nn as nn

from xlmr_lit.model import ClassificationHead, init_weights
from xlmr_lit.tokenizer import Specials

NATIVE_MODEL_TYPE = "xlm-roberta"  # our own encoder and tokenizer
HEAD_INIT_STD = 0.02
WORD = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]|[^\s\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+")


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError("model.init is a transformers encoder other than XLM-R (BERT, XLM, ...): fine-tuning it "
                          "needs transformers (pip install 'xlmr-lit[hf]')") from None
    return transformers


# ----------------------------------------------------------------------------------------------
# which model.init comes here


def model_type_of(config_file: Path) -> str | None:
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return None  # convert.load_pretrained says what is wrong with it
    return config.get("model_type", NATIVE_MODEL_TYPE) if isinstance(config, dict) else None


def transformers_directory(init: str) -> Path | None:
    """The directory of `model.init` when it is a transformers encoder other than XLM-R (downloaded for a hub
    id), else None: XLM-R, fairseq and our checkpoints take the native path (convert.load_pretrained)."""
    from xlmr_lit.convert import download_from_hub, is_hub_id

    kind, _, location = str(init).partition(":")
    if kind != "hf" or not location:
        return None
    directory = Path(location).expanduser()
    if directory.is_dir():
        model_type = model_type_of(directory / "config.json")
    elif is_hub_id(location):
        try:
            from huggingface_hub import hf_hub_download

            model_type = model_type_of(Path(hf_hub_download(location, "config.json")))
        except Exception:  # noqa: BLE001 - offline or no such repo: load_pretrained reports the download error
            return None
    else:
        return None
    if model_type in (None, NATIVE_MODEL_TYPE):
        return None
    return directory if directory.is_dir() else download_from_hub(location, tokenizer_files=True)


def fine_tuned_hparams(init: str) -> dict | None:
    """The hyper-parameters of `model.init` when it is one of our fine-tuning checkpoints of a transformers encoder
    (they hold its hf_config), else None. Reads only that small entry (mmap)."""
    from xlmr_lit.convert import read_torch_file

    path = Path(str(init)).expanduser()
    if path.suffix != ".ckpt" or not path.is_file():
        return None
    checkpoint = read_torch_file(path, mmap=True)
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    return hparams if isinstance(hparams, dict) and hparams.get("hf_config") else None


def load_transformers_init(init: str) -> tuple[object, dict[str, torch.Tensor], "HFTokenizer"] | None:
    """(config, weights, tokenizer) of a `model.init` that is a transformers encoder other than XLM-R: an HF
    directory or hub id, or a fine-tuning run's checkpoint of one (with the run's `tokenizer/`). None otherwise."""
    directory = transformers_directory(init)
    if directory is not None:
        return load_transformers_encoder(directory)
    hparams = fine_tuned_hparams(init)
    if hparams is None:
        return None
    from xlmr_lit.convert import read_torch_file

    path = Path(str(init)).expanduser()
    tokenizer_dir = path.resolve().parent.parent / "tokenizer"
    if not tokenizer_dir.is_dir():
        raise FileNotFoundError(f"model.init={init}: a fine-tuned {hparams['hf_config'].get('model_type')} encoder, "
                                f"whose tokenizer should be in its run's {tokenizer_dir}, which does not exist")
    config = _transformers().AutoConfig.for_model(**hparams["hf_config"])
    weights = read_torch_file(path)["state_dict"]
    state_dict = {k.removeprefix("model."): v for k, v in weights.items() if k.startswith("model.")}
    return config, state_dict, HFTokenizer(tokenizer_dir, config)


# ----------------------------------------------------------------------------------------------
# the tokenizer


def specials_of(hf_tokenizer, token_types: bool) -> Specials:
    """The framing `hf_tokenizer` adds around one text and a pair, read off its special-tokens mask."""
    pair = hf_tokenizer("a", "b", return_special_tokens_mask=True)
    ids, special = pair["input_ids"], pair["special_tokens_mask"]
    runs, start = [], 0  # runs of added special tokens: before A, between A and B, after B
    for i in range(1, len(ids) + 1):
        if i == len(ids) or special[i] != special[start]:
            runs.append((bool(special[start]), ids[start:i]))
            start = i
    texts = [i for i, (is_special, _) in enumerate(runs) if not is_special]
    if len(texts) != 2 or texts[1] - texts[0] != 2:
        raise ValueError(f"{type(hf_tokenizer).__name__} frames a pair as {hf_tokenizer.convert_ids_to_tokens(ids)}: "
                         f"expected [specials] text specials text [specials]")
    prefix = runs[0][1] if runs[0][0] else []
    middle = runs[texts[0] + 1][1]
    suffix = runs[-1][1] if runs[-1][0] else []
    single = hf_tokenizer("a")["input_ids"]
    if single[:len(prefix)] != prefix or single[len(single) - len(suffix):] != suffix:
        framed = hf_tokenizer.convert_ids_to_tokens(single)
        raise ValueError(f"{type(hf_tokenizer).__name__} frames one text as {framed}, "
                         f"not as the first text of a pair")
    if hf_tokenizer.pad_token_id is None:
        raise ValueError(f"{type(hf_tokenizer).__name__} has no padding token")
    unk = hf_tokenizer.unk_token_id if hf_tokenizer.unk_token_id is not None else hf_tokenizer.pad_token_id
    return Specials(tuple(prefix), tuple(middle), tuple(suffix), hf_tokenizer.pad_token_id, unk, token_types)


class HFTokenizer:
    """A model's own tokenizer (AutoTokenizer) with the methods the task featurizers call on XLMRTokenizer."""

    def __init__(self, directory: Path, model_config):
        self.hf = _transformers().AutoTokenizer.from_pretrained(str(directory))
        self.specials = specials_of(self.hf, token_types=getattr(model_config, "type_vocab_size", 1) > 1)
        uses_languages = getattr(model_config, "use_lang_emb", False) and getattr(model_config, "n_langs", 1) > 1
        # in id order
        self.lang2id = dict(sorted(model_config.lang2id.items(), key=lambda item: item[1])) if uses_languages else None
        self._word_cache: dict[str, list[int]] = {}  # a Python tokenizer's pieces of each word seen (XLM's: Moses)

    def pieces(self, text: str) -> list[int]:
        return self.hf(text, add_special_tokens=False)["input_ids"]

    def pieces_batch(self, texts: list[str]) -> list[list[int]]:
        return self.hf(list(texts), add_special_tokens=False)["input_ids"] if texts else []

    def word_pieces(self, words: list[str]) -> list[list[int]]:
        if self.hf.is_fast:
            return self.hf(list(words), add_special_tokens=False)["input_ids"] if words else []
        # a Python tokenizer costs about a millisecond a call (XLM's runs Moses); words repeat: each is tokenized once
        new = [w for w in dict.fromkeys(words) if w not in self._word_cache]
        if new:
            self._word_cache.update(zip(new, self.hf(new, add_special_tokens=False)["input_ids"]))
        return [self._word_cache[w] for w in words]

    def pieces_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids of `text` and each one's character span (see the module docstring)."""
        if self.hf.is_fast:
            encoded = self.hf(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = []
            for start, end in encoded["offset_mapping"]:
                while start < end and text[start].isspace():
                    start += 1
                offsets.append((start, end))
            return encoded["input_ids"], offsets
        words = list(WORD.finditer(text))
        ids, offsets = [], []
        for word, pieces in zip(words, self.word_pieces([w.group() for w in words])):
            ids += pieces
            offsets += [word.span()] * len(pieces)
        return ids, offsets

    def save(self, directory: Path) -> None:
        self.hf.save_pretrained(str(directory))


# ----------------------------------------------------------------------------------------------
# the encoder and the task heads


class HFEncoder(nn.Module):
    """transformers' AutoModel of `hf_config` without a pooler: ids -> (B, T, H)."""

    def __init__(self, hf_config: dict):
        super().__init__()
        transformers = _transformers()
        self.config = transformers.AutoConfig.for_model(**hf_config)
        self.model = transformers.AutoModel.from_config(self.config)
        if getattr(self.model, "pooler", None) is not None:
            self.model.pooler = None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, langs: torch.Tensor | None = None) -> torch.Tensor:
        extra = {name: value for name, value in (("token_type_ids", token_type_ids), ("langs", langs))
                 if value is not None}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state


class HFEncoderForSequenceClassification(nn.Module):
    def __init__(self, hf_config: dict, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = HFEncoder(hf_config)
        self.config = self.encoder.config
        self.classifier = ClassificationHead(self.config.hidden_size, dropout, num_labels)
        self.classifier.apply(lambda m: init_weights(m, HEAD_INIT_STD))

    def forward(self, input_ids, attention_mask=None, **encoder_inputs) -> torch.Tensor:
        return self.classifier(self.encoder(input_ids, attention_mask, **encoder_inputs))  # (B, num_labels)


class HFEncoderForTokenClassification(nn.Module):
    def __init__(self, hf_config: dict, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = HFEncoder(hf_config)
        self.config = self.encoder.config
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.config.hidden_size, num_labels)
        init_weights(self.classifier, HEAD_INIT_STD)

    def forward(self, input_ids, attention_mask=None, **encoder_inputs) -> torch.Tensor:
        hidden = self.encoder(input_ids, attention_mask, **encoder_inputs)
        return self.classifier(self.dropout(hidden))  # (B, T, num_labels)


class HFEncoderForQuestionAnswering(nn.Module):
    def __init__(self, hf_config: dict, dropout: float = 0.1):
        super().__init__()
        self.encoder = HFEncoder(hf_config)
        self.config = self.encoder.config
        self.qa_outputs = nn.Linear(self.config.hidden_size, 2)
        init_weights(self.qa_outputs, HEAD_INIT_STD)

    def forward(self, input_ids, attention_mask=None, **encoder_inputs) -> torch.Tensor:
        return self.qa_outputs(self.encoder(input_ids, attention_mask, **encoder_inputs))  # (B, T, 2)


# ----------------------------------------------------------------------------------------------
# loading


def config_dict(config) -> dict:
    """A transformers config as config.json's JSON-safe contents (what HFEncoder is built from)."""
    return json.loads(config.to_json_string(use_diff=False))


def load_transformers_encoder(directory: Path) -> tuple[object, dict[str, torch.Tensor], "HFTokenizer"]:
    """(the transformers config, the encoder's weights under `encoder.model.` with a pretrained pooler under
    `pooler.`, the tokenizer), all read with transformers' from_pretrained, as online."""
    transformers = _transformers()
    model, info = transformers.AutoModel.from_pretrained(str(directory), output_loading_info=True)
    config = model.config
    tokenizer = HFTokenizer(directory, model.config)
    pooler_missing = any(key.startswith("pooler.") for key in info.get("missing_keys", ()))
    state_dict = {}
    for key, value in model.state_dict().items():
        if key.startswith("pooler."):
            if not pooler_missing:
                state_dict[key] = value
        else:
            state_dict[f"encoder.model.{key}"] = value
    return config, state_dict, tokenizer


def task_state_dict(task_model: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The pretrained weights to load into `task_model`: the pooler starts a classification head's dense layer."""
    loaded = {k: v for k, v in state_dict.items() if not k.startswith("pooler.")}
    if isinstance(task_model, HFEncoderForSequenceClassification) and "pooler.dense.weight" in state_dict:
        loaded["classifier.dense.weight"] = state_dict["pooler.dense.weight"]
        loaded["classifier.dense.bias"] = state_dict["pooler.dense.bias"]
    return loaded
