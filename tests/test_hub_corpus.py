"""Hub pretraining corpora, streamed through the code's own `load_dataset` call from local copies of
FineWeb-2 and FineWeb in their real layouts (data/<config>/<split>/*.parquet, configs in the card)."""

import re
from pathlib import Path

import datasets
import pytest
from hub_layouts import write_card, write_parquet
from omegaconf import OmegaConf

from xlmr_lit.hub_corpus import language_sources, materialize_hub_corpus
from xlmr_lit.languages import XLMR_LANGUAGES
from xlmr_lit.cli import CONF_DIR

NOT_IN_FINEWEB2 = {"my_zaw", "zh_Hant"}
NOT_IN_WIKIPEDIA = {"bn_rom", "hi_rom", "ta_rom", "te_rom", "ur_rom", "my_zaw", "zh_Hant"}
# subsets in FineWeb-2's published list (github.com/huggingface/fineweb-2, fineweb2-language-distribution.csv)
ROMANIZED_AND_FILIPINO = {"bn_rom": "ben_Latn", "hi_rom": "hin_Latn", "ta_rom": "tam_Latn", "te_rom": "tel_Latn",
                          "ur_rom": "urd_Latn", "tl": "fil_Latn"}
WEB_FEATURES = {"text": datasets.Value("string"), "id": datasets.Value("string"), "url": datasets.Value("string")}


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets_cache")
    datasets.disable_progress_bars()


def web_rows(name: str, n: int) -> dict:
    return {"text": [f"{name} doc {i}\nsecond line" for i in range(n)] + ["  "], "id": [str(i) for i in range(n + 1)],
            "url": ["https://example.org"] * (n + 1)}


def write_fineweb2(hub_dir, configs: list[str]):
    """HuggingFaceFW/fineweb-2: data/<config>/{train,test}/000_00000.parquet, configs declared in its card."""
    repo = hub_dir / "HuggingFaceFW" / "fineweb-2"
    for config in configs:
        for split in ("train", "test"):
            write_parquet(repo / "data" / config / split / "000_00000.parquet", web_rows(config, 5), WEB_FEATURES)
    write_card(repo, {c: {s: f"data/{c}/{s}/*" for s in ("train", "test")} for c in configs})


def write_fineweb(hub_dir):
    """HuggingFaceFW/fineweb: config default (data/<dump>/*) and samples such as sample-10BT (sample/10BT/*)."""
    repo = hub_dir / "HuggingFaceFW" / "fineweb"
    write_parquet(repo / "data" / "CC-MAIN-2024-10" / "000_00000.parquet", web_rows("dump", 2), WEB_FEATURES)
    write_parquet(repo / "sample" / "10BT" / "000_00000.parquet", web_rows("sample-10BT", 5), WEB_FEATURES)
    write_card(repo, {"default": {"train": "data/*/*"}, "sample-10BT": {"train": "sample/10BT/*"}})


def fineweb2_hub():
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "data" / "hub" / "fineweb2.yaml"))


def corpus(hub: dict, languages, cache_dir, **overrides):
    settings = {key: hub[key] for key in ("config", "config_map", "sources", "split", "text_field", "max_documents")}
    return materialize_hub_corpus(hub["dataset"], languages, cache_dir, **{**settings, **overrides})


def test_fineweb2_map_covers_every_xlmr_language_it_has():
    hub = fineweb2_hub()
    config_map, sources = hub["config_map"], hub["sources"]
    assert set(config_map) | set(sources) == set(XLMR_LANGUAGES) - NOT_IN_FINEWEB2
    assert all(re.fullmatch(r"[a-z]{3}_[A-Z][a-z]{3}", name) for name in config_map.values())
    assert len(set(config_map.values())) == len(config_map)
    assert {lang: config_map[lang] for lang in ("fr", "ru", "zh", "sw", "no")} == {
        "fr": "fra_Latn", "ru": "rus_Cyrl", "zh": "cmn_Hani", "sw": "swh_Latn", "no": "nob_Latn"}
    assert {lang: config_map[lang] for lang in ROMANIZED_AND_FILIPINO} == ROMANIZED_AND_FILIPINO  # tl was tgl_Latn
    assert sources == {"en": {"dataset": "HuggingFaceFW/fineweb", "config": "sample-10BT"}}
    assert hub["config"] is None  # no template: a language outside the map is missing, not a made-up config


def test_streams_fineweb2_and_english_from_fineweb(tmp_path):
    write_fineweb2(tmp_path / "hub", ["fra_Latn", "swh_Latn"])
    write_fineweb(tmp_path / "hub")
    corpus_dir = corpus(fineweb2_hub(), ["en", "fr", "sw"], tmp_path / "cache", hub_dir=tmp_path / "hub",
                        max_documents=3)
    assert (corpus_dir / "sw.txt").read_text() == "".join(f"swh_Latn doc {i}\nsecond line\n\n" for i in range(3))
    assert (corpus_dir / "en.txt").read_text().startswith("sample-10BT doc 0")  # the sample, not the default config
    again = corpus(fineweb2_hub(), ["fr"], tmp_path / "cache", hub_dir=tmp_path / "nowhere", max_documents=3)
    assert again == corpus_dir  # cached: the same directory for any language set, nothing read again


def test_streams_the_romanized_languages_and_filipino_from_their_latin_script_configs(tmp_path):
    write_fineweb2(tmp_path / "hub", ["hin_Latn", "urd_Latn", "fil_Latn"])
    corpus_dir = corpus(fineweb2_hub(), ["hi_rom", "ur_rom", "tl"], tmp_path / "cache", hub_dir=tmp_path / "hub",
                        max_documents=2)
    assert (corpus_dir / "hi_rom.txt").read_text() == "".join(f"hin_Latn doc {i}\nsecond line\n\n" for i in range(2))
    assert (corpus_dir / "tl.txt").read_text().startswith("fil_Latn doc 0")


def test_a_language_the_source_lacks_fails_or_is_skipped_before_any_download(tmp_path):
    hub = fineweb2_hub()
    with pytest.raises(ValueError, match=r"HuggingFaceFW/fineweb-2 has no config for my_zaw zh_Hant.*"
                                         r"data.skip_missing_languages=true"):
        corpus(hub, ["fr", "my_zaw", "zh_Hant"], tmp_path / "cache", hub_dir=tmp_path / "nowhere")
    assert not list((tmp_path / "cache").rglob("*.txt"))
    write_fineweb2(tmp_path / "hub", ["fra_Latn"])
    corpus_dir = corpus(hub, ["fr", "my_zaw"], tmp_path / "cache", hub_dir=tmp_path / "hub", skip_missing=True)
    assert sorted(p.name for p in corpus_dir.glob("*.txt")) == ["fr.txt"]


def test_wrong_config_name_fails(tmp_path):
    write_fineweb2(tmp_path / "hub", ["fra_Latn"])
    with pytest.raises(ValueError, match="fr_Latn"):  # the old '{lang}_Latn' template names no FineWeb-2 config
        corpus(fineweb2_hub(), ["fr"], tmp_path / "cache", hub_dir=tmp_path / "hub", config="{lang}_Latn",
               config_map={})


def test_wikipedia_configs():
    hub = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "data" / "hub" / "wikipedia.yaml"))
    found, missing = language_sources(hub["dataset"], list(XLMR_LANGUAGES), hub["config"], hub["config_map"])
    assert found["en"] == ("wikimedia/wikipedia", "20231101.en") and found["no"][1] == "20231101.no"
    assert set(missing) == NOT_IN_WIKIPEDIA and len(found) == 93


def test_missing_text_field_is_named(tmp_path):
    write_fineweb2(tmp_path / "hub", ["fra_Latn"])
    with pytest.raises(KeyError, match="no field data.hub.text_field='content'; fields: \\['text', 'id', 'url'\\]"):
        corpus(fineweb2_hub(), ["fr"], tmp_path / "cache", hub_dir=tmp_path / "hub", text_field="content")
    assert not list((tmp_path / "cache").rglob("fr.txt"))


def test_pretraining_reads_data_hub(make_cfg, tmp_path):
    from xlmr_lit.pretrain import prepare_data

    write_fineweb2(tmp_path / "hub", ["fra_Latn", "swh_Latn"])
    write_fineweb(tmp_path / "hub")
    cfg = make_cfg("data/hub=fineweb2", f"data.hub.hub_dir={tmp_path / 'hub'}", "data.languages=[en,fr,sw,zh_Hant]",
                   "data.skip_missing_languages=true", "model.vocab_size=34")
    prepared = prepare_data(cfg)
    assert sorted(prepared.languages) == ["en", "fr", "sw"]


def test_scale_tiny_keeps_a_chosen_hub_corpus(make_cfg, tmp_path):
    """`scale=tiny data/hub=fineweb2` streams FineWeb-2 at tiny sizes; it once fell back to the bundled text silently."""
    from xlmr_lit.pretrain import prepare_data

    write_fineweb2(tmp_path / "hub", ["fra_Latn"])
    cfg = make_cfg("scale=tiny", "data/hub=fineweb2", f"data.hub.hub_dir={tmp_path / 'hub'}", "data.languages=[fr]",
                   "model.vocab_size=24")  # tiny's character_coverage 0.98 leaves fewer pieces than the default's
    assert cfg.data.hub.dataset == "HuggingFaceFW/fineweb-2" and cfg.scale_name == "tiny"
    prepared = prepare_data(cfg)
    assert prepared.languages == ["fr"]
    source = Path(prepared.info("fr")["source"]["path"])
    assert source.is_relative_to(cfg.paths.cache_dir) and "fra_Latn doc 0" in source.read_text()
