"""Adding languages to a model (extend.*, xlmr_lit/extend.py) and trimming its vocabulary (xlmr-trim): old ids kept
byte for byte, new rows as claimed, exact resume of continued pretraining, and transformers reloading both with our ids
and logits."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from conftest import TINY
from test_train import Interrupt, LossRecorder
from xlmr_lit.cli import CONF_DIR, train
from xlmr_lit.convert import SPM_FILE, load_our_checkpoint
from xlmr_lit.extend import load_proto, mean_rows, merge_sentencepiece, old_segmentation, sparsemax
from xlmr_lit.corpus import language_file
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.model import XLMRForMaskedLM
from xlmr_lit.tokenizer import XLMRTokenizer, train_sentencepiece
from xlmr_lit.trim import corpus_lines

OLD, NEW = ["en", "fr"], ["sw"]
TEXTS = ["All human beings are born free and equal in dignity and rights.",
         "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
         "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa.",
         "Kila mtu ana haki ya <mask> kuishi, uhuru na usalama."]


def compose_cfg(cache_dir: Path, run_dir: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[*TINY, f"paths.cache_dir={cache_dir}", f"paths.run_dir={run_dir}",
                                           *overrides])


@pytest.fixture(scope="module")
def base(cache_dir, tmp_path_factory) -> Path:
    """A tiny model pretrained on en and fr: the model to add sw to."""
    run = tmp_path_factory.mktemp("base")
    train(compose_cfg(cache_dir, run, f"data.languages=[{','.join(OLD)}]"))
    return run / "checkpoints" / "last.ckpt"


def extend_cfg(cache_dir, run_dir, base: Path, *overrides: str):
    return compose_cfg(cache_dir, run_dir, f"model.init={base}", f"data.languages=[{','.join(OLD + NEW)}]",
                       f"extend.languages=[{','.join(NEW)}]", "extend.vocab_size=300", *overrides)


def test_merge_appends_new_pieces_and_keeps_every_old_one_byte_identical(base, tmp_path):
    _, _, old_spm = load_our_checkpoint(base)
    sample = tmp_path / "sw.txt"
    sample.write_text("\n".join(corpus_lines({"sw": language_file(BUNDLED_CORPUS_DIR, "sw")})) + "\n")
    new_spm = train_sentencepiece(sample, tmp_path / "new", 300, character_coverage=1.0)
    added = merge_sentencepiece(Path(old_spm), new_spm, tmp_path / SPM_FILE)
    old, merged = load_proto(old_spm), load_proto(tmp_path / SPM_FILE)
    assert added and len(merged.pieces) == len(old.pieces) + len(added)
    for before, after in zip(old.pieces, merged.pieces):
        assert before.SerializeToString() == after.SerializeToString()
    new_scores = {p.piece: p.score for p in load_proto(new_spm).pieces}
    assert [(p.piece, p.score) for p in merged.pieces[len(old.pieces):]] == [(p, new_scores[p]) for p in added]
    assert not set(added) & {p.piece for p in old.pieces}
    ours_old, ours_new = XLMRTokenizer(old_spm), XLMRTokenizer(tmp_path / SPM_FILE)
    assert ours_new.mask_id == ours_new.vocab_size - 1 == ours_old.mask_id + len(added)
    old_ids = range(len(ours_old.sp))
    assert [ours_new.sp.id_to_piece(i) for i in old_ids] == [ours_old.sp.id_to_piece(i) for i in old_ids]
    assert ours_new.encode("x")[0] == 0 and ours_new.encode("x")[-1] == 2


def test_mean_rows_are_the_means_of_the_old_segmentation(base):
    _, state_dict, spm_path = load_our_checkpoint(base)
    old = XLMRTokenizer(spm_path)
    embeddings, bias = torch.randn(old.vocab_size, 8), torch.randn(old.vocab_size)
    pieces = ["\u2581haki", "zao", "\u2581wamezaliwa", "\u2581\u0e20\u0e32"]  # the last: Thai, all <unk> to it
    rows, biases, random_count = mean_rows(embeddings, bias, old, pieces, seed=0)
    assert random_count == 1
    for i, piece in enumerate(pieces[:3]):
        ids = old_segmentation(old, piece)
        assert ids and old.unk_id not in ids
        assert "".join(old.sp.id_to_piece(j - 1) for j in ids).replace("\u2581", "") == piece.replace("\u2581", "")
        torch.testing.assert_close(rows[i], embeddings[ids].mean(0), rtol=0, atol=0)
        torch.testing.assert_close(biases[i], bias[ids].mean(), rtol=0, atol=0)
    assert not old_segmentation(old, "zao")[0] == old.sp.piece_to_id("\u2581") + 1  # a continuation: no lone ▁


def test_sparsemax_is_a_sparse_distribution():
    weights = sparsemax(np.array([0.9, 0.85, 0.1, -0.5]))
    assert weights.sum() == pytest.approx(1.0) and weights[2:].tolist() == [0.0, 0.0] and weights[0] > weights[1] > 0


def test_continued_pretraining_of_an_extended_model_resumes_exactly_and_exports(base, cache_dir, tmp_path):
    common = ["trainer.max_steps=6", "data.samples_per_epoch=24", "train.checkpoint_every_n_steps=1",
              "extend.init=focus", "train.validate_at_start=true"]
    full = LossRecorder()
    train(extend_cfg(cache_dir, tmp_path / "full", base, *common), callbacks=[full])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(extend_cfg(cache_dir, tmp_path / "cut", base, *common), callbacks=[Interrupt(at=3)])
    resumed = LossRecorder()
    train(extend_cfg(cache_dir, tmp_path / "cut", base, *common), callbacks=[resumed])
    assert sorted({step for step, _ in resumed.losses}) == [4, 5, 6]
    assert resumed.losses == full.losses[-len(resumed.losses):]

    old_config, old_state, _ = load_our_checkpoint(base)
    checkpoint = tmp_path / "full" / "checkpoints" / "last.ckpt"
    config, state, spm_path = load_our_checkpoint(checkpoint)
    assert Path(spm_path).parent == tmp_path / "full" / "tokenizer"
    assert config.vocab_size > old_config.vocab_size
    hparams = torch.load(checkpoint, map_location="cpu", weights_only=True)["hyper_parameters"]
    assert hparams["extension"]["languages"] == NEW and hparams["extension"]["init"] == "focus"
    assert hparams["extension"]["added_pieces"] == config.vocab_size - old_config.vocab_size
    import csv

    with open(tmp_path / "full" / "csv" / "metrics.csv", newline="") as file:
        validated = [int(row["step"]) for row in csv.DictReader(file) if row.get("val/loss_per_char_sw")]
    assert validated[0] == 0  # train.validate_at_start: before the first step

    transformers = pytest.importorskip("transformers")
    from xlmr_lit.export import export

    hf_dir = tmp_path / "hf"
    export(checkpoint, hf_dir)
    ours = XLMRTokenizer(spm_path)
    fast = transformers.AutoTokenizer.from_pretrained(hf_dir)  # tokenizer.json
    spm_only = tmp_path / "spm_only"
    spm_only.mkdir()
    shutil.copyfile(hf_dir / SPM_FILE, spm_only / SPM_FILE)
    slow_class = getattr(transformers, "XLMRobertaTokenizerFast", None) and transformers.XLMRobertaTokenizer
    from_spm = (slow_class or transformers.XLMRobertaTokenizer).from_pretrained(spm_only)  # 4.x: the SentencePiece one
    assert fast.mask_token_id == from_spm.mask_token_id == ours.mask_id == config.vocab_size - 1
    for text in TEXTS:
        expected = ours.encode(text.replace("<mask>", ""))
        plain = text.replace("<mask>", "")
        assert fast(plain)["input_ids"] == from_spm(plain)["input_ids"] == expected
        assert ours.mask_id in fast(text)["input_ids"] if "<mask>" in text else True
    new_ids = {i for text in TEXTS for i in ours.encode(text)} & set(range(old_config.vocab_size - 1, ours.mask_id))
    assert new_ids, "the Swahili text uses none of the added pieces"

    model = XLMRForMaskedLM(config)
    model.load_state_dict({k: v for k, v in state.items()}, strict=False)
    model.eval()
    hf_model = transformers.AutoModelForMaskedLM.from_pretrained(hf_dir).eval()
    batch = fast(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = hf_model(**batch).logits
        mine, _ = model(batch["input_ids"], batch["attention_mask"])
    mask = batch["attention_mask"].bool()
    assert (theirs - mine)[mask].abs().max() < 1e-4
    assert state["roberta.embeddings.word_embeddings.weight"].shape[0] == config.vocab_size


def test_old_rows_keep_their_values_and_mask_moves_last(base, cache_dir, tmp_path):
    from xlmr_lit.convert import load_pretrained
    from xlmr_lit.extend import extend_model

    cfg = extend_cfg(cache_dir, tmp_path / "run", base, "extend.init=mean")
    init = load_pretrained(str(base))
    (config, state, spm_path), record = extend_model(cfg, init, {"sw": language_file(BUNDLED_CORPUS_DIR, "sw")},
                                                     cache_dir)
    old = init[1]["roberta.embeddings.word_embeddings.weight"]
    new = state["roberta.embeddings.word_embeddings.weight"]
    assert torch.equal(new[: len(old) - 1], old[:-1]) and torch.equal(new[-1], old[-1])
    assert torch.equal(state["lm_head.bias"][: len(old) - 1], init[1]["lm_head.bias"][:-1])
    assert torch.equal(state["lm_head.bias"][-1], init[1]["lm_head.bias"][-1])
    assert record["added_pieces"] == len(new) - len(old) == config.vocab_size - init[0].vocab_size


def test_trim_keeps_the_logits_of_the_kept_pieces_and_loads_in_transformers(base, tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    from xlmr_lit.trim import main

    main([str(base), str(tmp_path / "trimmed"), "--languages", "en"])
    printed = capsys.readouterr().out
    assert "parameters: " in printed and "within" in printed
    config, state, spm_path = load_our_checkpoint(tmp_path / "trimmed" / "checkpoints" / "trimmed.ckpt")
    old_config, old_state, old_spm = load_our_checkpoint(base)
    assert config.vocab_size < old_config.vocab_size
    old_tok, new_tok = XLMRTokenizer(old_spm), XLMRTokenizer(spm_path)
    text = TEXTS[0]
    new_ids = new_tok.encode(text)
    keep = [old_tok.sp.piece_to_id(new_tok.sp.id_to_piece(i - 1)) + 1 if 3 < i < new_tok.mask_id else
            (old_tok.mask_id if i == new_tok.mask_id else i) for i in range(config.vocab_size)]
    assert [keep[i] for i in new_ids] == old_tok.encode(text)
    old_model, new_model = XLMRForMaskedLM(old_config).eval(), XLMRForMaskedLM(config).eval()
    old_model.load_state_dict(old_state, strict=False)
    new_model.load_state_dict(state, strict=False)
    ids = torch.tensor([new_ids[:3] + [new_tok.mask_id] + new_ids[4:]])
    with torch.no_grad():
        ours, _ = new_model(ids)
        original, _ = old_model(torch.tensor(keep)[ids])
    assert (ours - original[..., keep]).abs().max() <= 1e-5
    hf = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "trimmed" / "hf").eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "trimmed" / "hf")
    assert hf_tok(text)["input_ids"] == new_ids and hf_tok.mask_token_id == new_tok.mask_id
    with torch.no_grad():
        assert (hf(input_ids=ids).logits - ours).abs().max() < 1e-4


def fake_point(root: Path, init: str, new_losses: list[float], old_losses: list[float]) -> None:
    """A run directory as experiments/extend_languages.yaml leaves it: config, CSV metrics, result rows."""
    run = root / f"init={init}"
    (run / "csv").mkdir(parents=True)
    (run / "config_resolved.yaml").write_text(f"scale_name: tiny\nextend:\n  languages: [pl]\n  init: {init}\n"
                                              f"data:\n  languages: [en, pl]\n"
                                              f"trainer:\n  max_steps: 100\n")
    lines = ["epoch,step,train/loss,val/loss_per_char_en,val/loss_per_char_pl,val/loss_per_char_high"]
    for i, (new, old) in enumerate(zip(new_losses, old_losses)):
        step = 0 if i == 0 else 50 * i - 1  # Lightning's CSV step of a validation inside training
        lines += [f"0,{step},,{old},{new},{old}", f"0,{step + 1},3.0,,,"]
    lines.append(f"0,100,,{old_losses[-1] + 1},{new_losses[-1] + 1},")  # the best checkpoint's, after training
    (run / "csv" / "metrics.csv").write_text("\n".join(lines) + "\n")
    rows = [{"task": "pretrain", "setting": "mlm", "selection": "single", "split": "valid", "language": lang,
             "metric": "unk_share", "value": share, "epoch": None, "override.extend.init": init}
            for lang, share in (("en", 0.0), ("pl", 0.2 if init == "none" else 0.0))]
    (run / "results.jsonl").write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))


def test_the_extension_figure_draws_new_languages_by_step_and_old_ones_before_and_after(tmp_path):
    from xlmr_lit.plot import main
    from xlmr_lit.extension_curves import extension_points, extension_table
    from xlmr_lit.results import read_rows

    fake_point(tmp_path, "none", [2.0, 1.8, 1.7], [1.5, 1.5, 1.45])
    fake_point(tmp_path, "mean", [1.9, 1.5, 1.3], [1.6, 1.52, 1.5])
    points = extension_points(read_rows([tmp_path]))
    assert list(points) == ["none", "mean"]
    assert points["mean"]["curves"]["pl"] == [(0, 1.9), (50, 1.5), (100, 1.3)]
    assert points["mean"]["new"] == ["pl"] and points["mean"]["old"] == ["en"]
    header, table = extension_table(points)
    assert table[0][1:] == ["2.000", "1.700", "20.0", "1.500", "1.450", "-0.050"]
    main(["extend_languages", "--runs", str(tmp_path), "--out", str(tmp_path / "fig")])
    assert (tmp_path / "fig.png").is_file() and "extended, mean rows" in (tmp_path / "fig.md").read_text()


@pytest.mark.slow
def test_the_extension_experiment_runs_every_point_and_plots(base, cli_env, tmp_path):
    """experiments/extend_languages.yaml end to end at scale tiny (two steps a point), offline; in CI only."""
    import subprocess
    import sys

    from xlmr_lit.plot import main

    proc = subprocess.run([sys.executable, "-m", "xlmr_lit.cli", "-m", "experiment=extend_languages",
                           f"model.init={base}", "scale_grid.extend.steps=2", "scale_grid.extend.val_every=1",
                           "threads=1", "logger=csv", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "sweep").glob("init=*") if (p / "DONE").is_file()) == [
        "init=focus", "init=mean", "init=none", "init=random"]
    main(["extend_languages", "--runs", str(tmp_path / "sweep"), "--out", str(tmp_path / "fig")])
    assert (tmp_path / "fig.md").read_text().count("\n") == 6


def test_an_hf_model_is_extended_like_ours(cache_dir, tmp_path):
    pytest.importorskip("transformers")
    from tiny_hf_model import build_tiny_hf_model

    from xlmr_lit.config_checks import check_config
    from xlmr_lit.convert import load_pretrained
    from xlmr_lit.extend import extend_model, extension_record, pretrained_languages

    hf_dir = build_tiny_hf_model(tmp_path / "hf")
    init = f"hf:{hf_dir}"
    cfg = compose_cfg(cache_dir, tmp_path / "run", f"model.init={init}", "data.languages=[en,fr,sw]",
                      "extend.languages=[sw]", "extend.vocab_size=300", "extend.init=mean")
    check_config(cfg)  # 1000 entries: not a released XLM-R, so no language counts as covered
    assert pretrained_languages(init) == set() and extension_record(init) is None
    before = load_pretrained(init)
    (config, state, spm_path), record = extend_model(cfg, before, {"sw": language_file(BUNDLED_CORPUS_DIR, "sw")},
                                                     cache_dir)
    assert record["base"] == init and config.vocab_size == before[0].vocab_size + record["added_pieces"]
    model = XLMRForMaskedLM(config)
    model.load_state_dict(state, strict=False)
    assert XLMRTokenizer(spm_path).encode("Watu wote")[0] == 0


def test_a_run_done_before_the_extension_keys_existed_is_not_refused_on_rerun(make_cfg):
    from xlmr_lit.pipeline import differing_settings, run_settings

    cfg = make_cfg()
    settings = run_settings(cfg)
    assert not any(key.startswith("extend.") for key in settings)  # no extension: its keys are not settings
    before = {"settings": {k: v for k, v in settings.items() if k != "train.validate_at_start"}}
    assert differing_settings(before, cfg) == []  # a key added since, left false: as it ran
    extended = make_cfg("extend.languages=[sw]")
    assert "extend.init: '(unset)' -> 'mean'" in differing_settings(before, extended)
