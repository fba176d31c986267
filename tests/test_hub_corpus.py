import datasets
import pytest

from xlmr_lit.hub_corpus import materialize_hub_corpus


@pytest.fixture
def fake_hub(monkeypatch):
    calls = []

    def load_dataset(name, config, split, streaming):
        calls.append((name, config, split, streaming))
        return iter([{"text": f"{config} doc {i}\nsecond line"} for i in range(5)] + [{"text": "  "}])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_streams_each_language_once_into_the_text_layout(fake_hub, tmp_path):
    corpus = materialize_hub_corpus(
        "org/web", ["en", "sw"], tmp_path, config="{lang}_Latn", config_map={"sw": "swh_Latn"}, max_documents=3
    )
    assert fake_hub == [("org/web", "en_Latn", "train", True), ("org/web", "swh_Latn", "train", True)]
    text = (corpus / "sw.txt").read_text()
    assert text == "".join(f"swh_Latn doc {i}\nsecond line\n\n" for i in range(3))
    again = materialize_hub_corpus(
        "org/web", ["en", "sw"], tmp_path, config="{lang}_Latn", config_map={"sw": "swh_Latn"}, max_documents=3
    )
    assert again == corpus and len(fake_hub) == 2  # cached


def test_missing_text_field_is_named(fake_hub, tmp_path):
    with pytest.raises(KeyError, match="no field data.hub.text_field='content'; fields: \\['text'\\]"):
        materialize_hub_corpus("org/web", ["en"], tmp_path, text_field="content")
    assert not list(tmp_path.rglob("en.txt"))
