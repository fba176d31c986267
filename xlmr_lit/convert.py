"""Weights in and out: HF `XLMRoberta*` directories, fairseq XLM-R releases, our checkpoints.

Our parameter names are HF's (`xlmr_lit.model`), so HF <-> ours is a key-for-key copy apart from
HF's tied aliases; fairseq -> ours is a rename. `load_pretrained("hf:<dir or hub id>")` or
`load_pretrained("fairseq:<dir>")` returns our config, our state dict and the SentencePiece model;
`load_state_dict_checked` loads it and refuses shape mismatches and unknown keys.
"""

import argparse
import dataclasses
import json
import logging
import pickle
import re
from collections import Counter, defaultdict
from pathlib import Path

import sentencepiece as spm
import torch
import torch.nn as nn
from safetensors.torch import load_file

from xlmr_lit.model import XLMRConfig

log = logging.getLogger(__name__)

SPM_FILE = "sentencepiece.bpe.model"
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

# Keys a checkpoint may lack or carry without it being an error; both are logged as warnings.
# - `lm_head.`: a bare encoder (HF XLMRobertaModel) has no MLM head: ours stays randomly initialised.
# - `roberta.pooler.`: XLMRobertaModel's pooler, which XLM-R never trained (we have no pooler).
# - `roberta.embeddings.position_ids`: a buffer that old transformers versions saved.
ALLOW_MISSING = ("lm_head.",)
ALLOW_UNEXPECTED = ("roberta.pooler.", "roberta.embeddings.position_ids")


# ----------------------------------------------------------------------------------------------
# configs


# transformers' XLMRobertaConfig defaults, for fields a config.json leaves out
HF_CONFIG_DEFAULTS = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2,
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12,
    "initializer_range": 0.02, "pad_token_id": 1, "hidden_act": "gelu", "position_embedding_type": "absolute",
    "is_decoder": False,
}


def config_from_hf(hf_config: dict) -> XLMRConfig:
    """Our config from the contents of an HF config.json, with HF's defaults for absent fields."""
    model_type = hf_config.get("model_type", "xlm-roberta")
    if model_type != "xlm-roberta":
        raise ValueError(f"expected an HF config with model_type 'xlm-roberta', got {model_type!r}")
    hf = {**HF_CONFIG_DEFAULTS, **hf_config}
    for name, supported in (("hidden_act", "gelu"), ("position_embedding_type", "absolute"), ("is_decoder", False)):
        if hf[name] != supported:
            raise ValueError(f"HF config has {name}={hf[name]!r}; xlmr-lit only supports {name}={supported!r}")
    return XLMRConfig(**{f.name: hf[f.name] for f in dataclasses.fields(XLMRConfig)})


def config_to_hf(config: XLMRConfig, architecture: str = "XLMRobertaForMaskedLM") -> dict:
    """A config.json dict that transformers reads as the equivalent `XLMRobertaConfig`."""
    return {
        "architectures": [architecture],
        "model_type": "xlm-roberta",
        **dataclasses.asdict(config),
        "hidden_act": "gelu",  # exact (erf) GELU, as torch.nn.functional.gelu
        "position_embedding_type": "absolute",
        "bos_token_id": 0,
        "eos_token_id": 2,
        "tie_word_embeddings": True,
        "use_cache": True,
        "classifier_dropout": None,
    }


# ----------------------------------------------------------------------------------------------
# state dict renames (pure functions)


def hf_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF XLMRobertaForMaskedLM / XLMRobertaModel / task-head state dict -> ours.

    A bare XLMRobertaModel has no `roberta.` prefix: it is added. HF's alias `lm_head.decoder.bias`
    (= `lm_head.bias`) is dropped and the tied `lm_head.decoder.weight`, which transformers 5
    leaves out of its files, is restored. Task heads (`classifier.*`, `qa_outputs.*`) keep their names.
    """
    ours = {}
    for key, value in state_dict.items():
        if key.startswith(("embeddings.", "encoder.", "pooler.")):
            key = "roberta." + key
        ours[key] = value
    decoder_bias = ours.pop("lm_head.decoder.bias", None)
    if decoder_bias is not None:
        bias = ours.setdefault("lm_head.bias", decoder_bias)
        if not torch.equal(bias, decoder_bias):
            raise ValueError("lm_head.bias and lm_head.decoder.bias differ: xlmr-lit needs them to be one tensor")
    if "lm_head.dense.weight" in ours and "lm_head.decoder.weight" not in ours:
        ours["lm_head.decoder.weight"] = ours["roberta.embeddings.word_embeddings.weight"]
    return ours


def ours_to_hf(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Ours -> the exact key set of HF's `XLMRobertaForMaskedLM.state_dict()` (or a task-head model's)."""
    hf = dict(state_dict)
    if "lm_head.bias" in hf:
        hf.setdefault("lm_head.decoder.weight", hf["roberta.embeddings.word_embeddings.weight"])
        hf["lm_head.decoder.bias"] = hf["lm_head.bias"]
    return hf


_FAIRSEQ_LAYER = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.output.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
    "final_layer_norm": "output.LayerNorm",
}
_FAIRSEQ_TOP = {
    "sentence_encoder.embed_tokens.weight": "roberta.embeddings.word_embeddings.weight",
    "sentence_encoder.embed_positions.weight": "roberta.embeddings.position_embeddings.weight",
    "sentence_encoder.emb_layer_norm.weight": "roberta.embeddings.LayerNorm.weight",
    "sentence_encoder.emb_layer_norm.bias": "roberta.embeddings.LayerNorm.bias",
    # newer fairseq names the embedding LayerNorm like its TransformerEncoder does
    "sentence_encoder.layernorm_embedding.weight": "roberta.embeddings.LayerNorm.weight",
    "sentence_encoder.layernorm_embedding.bias": "roberta.embeddings.LayerNorm.bias",
    "lm_head.dense.weight": "lm_head.dense.weight",
    "lm_head.dense.bias": "lm_head.dense.bias",
    "lm_head.layer_norm.weight": "lm_head.layer_norm.weight",
    "lm_head.layer_norm.bias": "lm_head.layer_norm.bias",
    "lm_head.weight": "lm_head.decoder.weight",
    "lm_head.bias": "lm_head.bias",
}
_LAYER_KEY = re.compile(r"sentence_encoder\.layers\.(\d+)\.(.+)[._](weight|bias)$")  # [._]: in_proj_weight


def fairseq_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fairseq RoBERTa/XLM-R `model` state dict -> ours.

    The 2019 XLM-R releases prefix keys with `decoder.` (`decoder.sentence_encoder.*`,
    `decoder.lm_head.*`); later fairseq writes `encoder.`: both are accepted. fairseq has no token
    types, so our single token-type row is zeros. Unknown keys are kept under their fairseq name so
    that `load_state_dict_checked` reports them.
    """
    ours = {}
    for key, value in state_dict.items():
        if key.endswith("version") or key.endswith("_float_tensor"):
            continue  # fairseq bookkeeping buffers, not weights
        name = key.split(".", 1)[1] if key.startswith(("encoder.", "decoder.")) else key
        if name in _FAIRSEQ_TOP:
            ours[_FAIRSEQ_TOP[name]] = value
        elif match := _LAYER_KEY.match(name):
            layer, module, kind = match.groups()
            prefix = f"roberta.encoder.layer.{layer}."
            if module == "self_attn.in_proj":  # fairseq < 0.9 kept q, k, v in one matrix
                for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                    ours[f"{prefix}attention.self.{part}.{kind}"] = chunk
            elif module in _FAIRSEQ_LAYER:
                ours[f"{prefix}{_FAIRSEQ_LAYER[module]}.{kind}"] = value
            else:
                ours[key] = value
        else:
            ours[key] = value
    embeddings = ours.get("roberta.embeddings.word_embeddings.weight")
    if embeddings is not None:
        ours["roberta.embeddings.token_type_embeddings.weight"] = embeddings.new_zeros(1, embeddings.shape[1])
    return ours


# ----------------------------------------------------------------------------------------------
# loading into a module


def load_state_dict_checked(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str,
    allow_missing: tuple[str, ...] = ALLOW_MISSING,
    allow_unexpected: tuple[str, ...] = ALLOW_UNEXPECTED,
) -> None:
    """Load `state_dict` into `model`, refusing anything that does not fit.

    Raises ValueError naming every parameter whose shape differs (with both shapes), every missing
    key not under an `allow_missing` prefix and every unexpected key not under an
    `allow_unexpected` prefix. Allowed ones are logged as a warning that lists them; missing ones
    keep the model's current (random) values. Tied parameters (the MLM decoder and the word
    embeddings) count as present when either name is given, and must agree when both are.
    """
    state_dict = dict(state_dict)
    expected = model.state_dict()
    for names in _tied_names(model):
        given = [n for n in names if n in state_dict]
        for n in given[1:]:
            if not torch.equal(state_dict[n], state_dict[given[0]]):
                raise ValueError(f"{source}: {given[0]} and {n} are tied in the model but differ in the checkpoint")
        for n in names:
            if given and n not in state_dict:
                state_dict[n] = state_dict[given[0]]

    mismatched = [
        f"  {k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if mismatched:
        raise ValueError(f"{source}: shape mismatch for {len(mismatched)} parameter(s):\n" + "\n".join(mismatched))

    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    bad_missing = [k for k in missing if not k.startswith(allow_missing)]
    bad_unexpected = [k for k in unexpected if not k.startswith(allow_unexpected)]
    if bad_missing or bad_unexpected:
        lines = [f"{source}: the checkpoint does not fit the model."]
        if bad_missing:
            lines += [f"missing keys ({len(bad_missing)}):", *(f"  {k}" for k in bad_missing)]
        if bad_unexpected:
            lines += [f"unexpected keys ({len(bad_unexpected)}):", *(f"  {k}" for k in bad_unexpected)]
        raise ValueError("\n".join(lines))
    if missing:
        log.warning("%s has no %s; keeping their random initialisation", source, ", ".join(missing))
    if unexpected:
        log.warning("%s: ignoring %s", source, ", ".join(unexpected))
    model.load_state_dict({k: v for k, v in state_dict.items() if k in expected}, strict=False)


def _tied_names(model: nn.Module) -> list[list[str]]:
    by_tensor = defaultdict(list)
    for name, param in model.named_parameters(remove_duplicate=False):
        by_tensor[id(param)].append(name)
    return [names for names in by_tensor.values() if len(names) > 1]


# ----------------------------------------------------------------------------------------------
# reading releases from disk


def load_pretrained(init: str) -> tuple[XLMRConfig, dict[str, torch.Tensor], Path]:
    """`hf:<dir or hub id>`, `fairseq:<dir>` or our `<path>.ckpt` -> (config, state dict, SentencePiece path)."""
    kind, sep, location = init.partition(":")
    if kind not in ("hf", "fairseq") and init.endswith(".ckpt"):
        return load_our_checkpoint(Path(init))
    if not sep or not location or kind not in ("hf", "fairseq"):
        raise ValueError(f"model.init={init!r}: expected 'hf:<dir or hub id>', 'fairseq:<dir>' or a .ckpt of ours")
    if kind == "hf":
        directory = Path(location).expanduser()
        if not directory.is_dir():
            if not is_hub_id(location):
                raise FileNotFoundError(f"model.init={init!r}: directory {directory} does not exist")
            directory = download_from_hub(location)
        return _load_hf_dir(directory)
    directory = Path(location).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"model.init={init!r}: directory {directory} does not exist "
            f"(expected a fairseq XLM-R release: model.pt, dict.txt, {SPM_FILE})"
        )
    return _load_fairseq_dir(directory)


def init_problem(init: str) -> str | None:
    """Why `init` cannot give a model and its tokenizer, found without loading weights (None: no problem found; a hub
    id is not checked offline): a missing SentencePiece model, an HF config that is not XLM-R's, a .ckpt not of ours."""
    kind, sep, location = init.partition(":")
    if kind == "hf" and sep:
        directory = Path(location).expanduser()
        if not directory.is_dir():
            return None if is_hub_id(location) else "no such directory"
        config = directory / "config.json"
        try:
            model_type = json.loads(config.read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            return f"{config} is missing or not a JSON object"
        if model_type != "xlm-roberta":
            return f"an HF model of model_type {model_type!r}, not XLM-R's 'xlm-roberta'"
        return None if (directory / SPM_FILE).is_file() else f"it has no tokenizer ({SPM_FILE} is missing)"
    if kind == "fairseq" and sep:
        directory = Path(location).expanduser()
        return None if (directory / SPM_FILE).is_file() else f"it has no tokenizer ({directory / SPM_FILE} is missing)"
    path = Path(init).expanduser()
    if not path.is_file():
        return "no such file"
    try:
        hparams = read_torch_file(path, mmap=True).get("hyper_parameters") or {}
    except (ValueError, AttributeError):
        return "not a checkpoint of xlmr-lit"
    if "model_config" not in hparams:
        return "not a checkpoint of xlmr-lit (no hyper_parameters.model_config)"
    try:
        _find_run_tokenizer(path, hparams.get("tokenizer_path"))
    except FileNotFoundError as err:
        return f"it has no tokenizer: {err}"
    return None


def is_hub_id(location: str) -> bool:
    """`owner/name` (or `name`), not a path."""
    return not location.startswith((".", "/", "~")) and location.count("/") <= 1


# a transformers tokenizer's files besides *.json: vocab.txt (BERT), merges.txt (XLM, BPE), *.model (SentencePiece)
TOKENIZER_PATTERNS = ["*.txt", "*.model"]


def download_from_hub(repo_id: str, tokenizer_files: bool = False) -> Path:
    """config, weights (safetensors, else pickles) and tokenizer of `repo_id`: XLM-R's SentencePiece model, or with
    `tokenizer_files` whatever a transformers tokenizer reads."""
    from huggingface_hub import snapshot_download

    log.info("model.init: %s is not a local directory; downloading it from the HF hub", repo_id)
    tokenizer = TOKENIZER_PATTERNS if tokenizer_files else [SPM_FILE]
    try:
        directory = Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", *tokenizer]))
        if not any((directory / name).exists() for name in HF_WEIGHT_FILES[:2]):
            directory = Path(snapshot_download(repo_id, allow_patterns=["*.json", "pytorch_model.bin*", *tokenizer]))
    except Exception as err:
        raise FileNotFoundError(
            f"model.init=hf:{repo_id}: not a local directory, and downloading it from the HF hub failed: {err}"
        ) from err
    return directory


def _load_hf_dir(directory: Path) -> tuple[XLMRConfig, dict[str, torch.Tensor], Path]:
    config_file, spm_file = directory / "config.json", directory / SPM_FILE
    for required in (config_file, spm_file):
        if not required.is_file():
            raise FileNotFoundError(
                f"{directory} is not an HF XLM-R directory: {required.name} is missing "
                f"(expected config.json, one of {', '.join(HF_WEIGHT_FILES)}, and {SPM_FILE})"
            )
    try:
        config = config_from_hf(json.loads(config_file.read_text()))
    except (ValueError, AttributeError, TypeError) as err:  # not JSON, not a JSON object, not XLM-R
        raise ValueError(f"{config_file}: not an HF XLM-R config.json ({err})") from None
    state_dict = hf_to_ours(read_hf_weights(directory))
    _check_vocab(config, spm_file)
    return config, state_dict, spm_file


def read_hf_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The weights of an HF directory: safetensors when present, else pickles read with weights_only."""
    for name in HF_WEIGHT_FILES:
        path = directory / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):  # sharded: {"weight_map": {param: shard file}}
            shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
            weights = {}
            for shard in shards:
                weights.update(_read_weight_file(directory / shard))
            return weights
        return _read_weight_file(path)
    raise FileNotFoundError(f"{directory} has no weights: expected one of {', '.join(HF_WEIGHT_FILES)}")


def _read_weight_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except Exception as err:
            raise ValueError(f"{path}: cannot be read as safetensors weights ({err}); the file may be truncated") from None
    return read_torch_file(path)


def read_torch_file(path: Path, mmap: bool = False):
    """torch.load(weights_only=True), with errors that name the file and say what is wrong with it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        detail = str(err).rsplit("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0] if str(err) else ""
        raise ValueError(f"{path} is not a checkpoint of xlmr-lit, HF or fairseq: it holds objects other than tensors "
                         f"and plain containers, which are not loaded, as that could run code ({detail})") from None
    except Exception as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{path}: cannot be read as a PyTorch checkpoint ({type(err).__name__}: {reason}); "
            f"it is truncated (an interrupted save or copy?) or not a checkpoint at all"
        ) from None


def _load_fairseq_dir(directory: Path) -> tuple[XLMRConfig, dict[str, torch.Tensor], Path]:
    checkpoint_file, dict_file, spm_file = directory / "model.pt", directory / "dict.txt", directory / SPM_FILE
    for required in (checkpoint_file, dict_file, spm_file):
        if not required.is_file():
            raise FileNotFoundError(
                f"{directory} is not a fairseq XLM-R release: {required.name} is missing "
                f"(expected model.pt, dict.txt and {SPM_FILE})"
            )
    # fairseq's legacy `args` is an argparse.Namespace: allow that one class, nothing else
    with torch.serialization.safe_globals([argparse.Namespace]):
        checkpoint = read_torch_file(checkpoint_file)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ValueError(f"{checkpoint_file} is not a fairseq checkpoint: expected a dict with a 'model' state dict")
    state_dict = fairseq_to_ours(checkpoint["model"])
    config = _config_from_fairseq(checkpoint, state_dict, checkpoint_file)
    _check_vocab(config, spm_file)
    _check_fairseq_dict(dict_file, spm_file)
    return config, state_dict, spm_file


def _config_from_fairseq(checkpoint: dict, state_dict: dict[str, torch.Tensor], source: Path) -> XLMRConfig:
    args = checkpoint.get("args")
    if args is not None:
        model_args = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    elif isinstance(checkpoint.get("cfg"), dict) and checkpoint["cfg"].get("model") is not None:
        model_args = dict(checkpoint["cfg"]["model"])
    else:
        raise ValueError(f"{source} has neither 'args' nor 'cfg': cannot read the number of attention heads")
    if model_args.get("activation_fn", "gelu") != "gelu":
        raise ValueError(f"{source}: activation_fn={model_args['activation_fn']!r}; xlmr-lit only supports 'gelu'")
    if model_args.get("encoder_normalize_before", False):
        raise ValueError(f"{source}: encoder_normalize_before=True (pre-LN); xlmr-lit implements post-LN XLM-R")
    for key in ("roberta.embeddings.word_embeddings.weight", "roberta.embeddings.position_embeddings.weight"):
        if key not in state_dict:
            raise ValueError(f"{source}: no {key} (fairseq embed_tokens / embed_positions) in the checkpoint")
    vocab_size, hidden_size = state_dict["roberta.embeddings.word_embeddings.weight"].shape
    layers = {int(m.group(1)) for k in state_dict if (m := re.match(r"roberta\.encoder\.layer\.(\d+)\.", k))}
    return XLMRConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=len(layers),
        num_attention_heads=int(model_args["encoder_attention_heads"]),
        intermediate_size=state_dict["roberta.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state_dict["roberta.embeddings.position_embeddings.weight"].shape[0],
        hidden_dropout_prob=float(model_args.get("dropout", 0.1)),
        attention_probs_dropout_prob=float(model_args.get("attention_dropout", 0.1)),
    )


def _check_vocab(config: XLMRConfig, spm_file: Path, model_file: Path | None = None) -> None:
    try:
        pieces = spm.SentencePieceProcessor(model_file=str(spm_file)).get_piece_size()
    except Exception:
        raise ValueError(f"{spm_file}: not a SentencePiece model (it does not parse)") from None
    if pieces + 2 != config.vocab_size:
        model = f"the model in {model_file}" if model_file else "the model"
        raise ValueError(
            f"a different vocabulary: {spm_file} has {pieces} pieces, so the XLM-R vocabulary has {pieces + 2} ids, "
            f"but {model} has vocab_size {config.vocab_size}"
        )


def _check_fairseq_dict(dict_file: Path, spm_file: Path) -> None:
    # fairseq id = 4 + line index of dict.txt; our tokenizer assumes that equals SPM id + 1
    sp = spm.SentencePieceProcessor(model_file=str(spm_file))
    words = []
    for line in dict_file.read_text(encoding="utf-8").splitlines():
        word, field = line.rstrip().rsplit(" ", 1)
        if field == "#fairseq:overwrite":
            word = word.rsplit(" ", 1)[0]
        words.append(word)
    pieces = [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
    if words != pieces:
        first = next((i for i, (w, p) in enumerate(zip(words, pieces)) if w != p), min(len(words), len(pieces)))
        raise ValueError(
            f"{dict_file} does not list the pieces of {spm_file} in order (first difference at line {first + 1}; "
            f"{len(words)} words vs {len(pieces)} pieces): token ids would not match the model"
        )


def load_our_checkpoint(path: Path, tokenizer: Path | None = None) -> tuple[XLMRConfig, dict[str, torch.Tensor], Path]:
    """Config, model state dict and SentencePiece path of an xlmr-lit Lightning checkpoint.

    Expects `state_dict` keys `model.<our key>` and `hyper_parameters` with `model_config` (a dict of
    XLMRConfig fields) and `tokenizer_path`. Other state_dict entries are not part of the model:
    they are dropped with a warning that lists them.
    """
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    checkpoint = read_torch_file(path)
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    if not isinstance(hparams, dict) or "model_config" not in hparams or not isinstance(checkpoint.get("state_dict"), dict):
        found = f"keys {sorted(map(str, checkpoint))[:8]}" if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(
            f"{path} is not a Lightning checkpoint of xlmr-lit: expected 'state_dict' and "
            f"hyper_parameters.model_config, found {found}"
        )
    if hparams.get("hf_config"):
        raise ValueError(f"{path} is a fine-tuned {hparams['hf_config'].get('model_type')} encoder (transformers' "
                         f"AutoModel with our task head), not XLM-R: fine-tuning and task.train=false read it "
                         f"(model.init=), export does not")
    state_dict = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    others = Counter(k.split(".", 1)[0] for k in checkpoint["state_dict"] if not k.startswith("model."))
    if others:
        dropped = ", ".join(f"{prefix}.* ({n} tensors)" for prefix, n in sorted(others.items()))
        log.warning("%s: state_dict entries outside model.* are not model weights, dropped: %s", path, dropped)
    try:
        config = XLMRConfig(**hparams["model_config"])
    except TypeError as err:
        raise ValueError(f"{path}: hyper_parameters.model_config does not describe an xlmr-lit model ({err})") from None
    spm_path = tokenizer or _find_run_tokenizer(path, hparams.get("tokenizer_path"))
    if not Path(spm_path).is_file():
        raise FileNotFoundError(f"tokenizer {spm_path} does not exist")
    _check_vocab(config, Path(spm_path), model_file=path)
    return config, state_dict, spm_path


def _find_run_tokenizer(checkpoint: Path, recorded: str | None) -> Path:
    # the recorded path goes stale when a run directory is moved; <run_dir>/tokenizer/ travels with it
    candidates = [Path(recorded)] if recorded else []
    candidates.append(checkpoint.resolve().parent.parent / "tokenizer" / SPM_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no SentencePiece model for {checkpoint}: tried {', '.join(map(str, candidates))}")
