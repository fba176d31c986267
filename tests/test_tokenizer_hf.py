"""Our XLMRTokenizer gives transformers' XLMRobertaTokenizer ids on any SentencePiece model; offsets for QA."""

import random
import shutil
import unicodedata

import pytest
from transformers import XLMRobertaTokenizer

from xlmr_lit.tokenizer import XLMRTokenizer, train_sentencepiece
from xlmr_lit.tokenizer_offsets import encode_with_offsets, pieces_with_offsets

TRAIN_SENTENCES = [
    "The committee will publish its final report next Tuesday.",
    "She walked to the station, bought a ticket and waited for the train.",
    "Les enfants jouent dans le jardin pendant que leurs parents préparent le dîner.",
    "Nous avons visité trois musées et deux églises à Paris.",
    "Die Regierung hat gestern neue Maßnahmen für den Klimaschutz beschlossen.",
    "Im Winter fahren wir gern in die Berge zum Skifahren.",
    "El mercado abre a las ocho de la mañana y cierra al mediodía.",
    "¿Cuántos idiomas se hablan en la India?",
    "Студенты сдают экзамены в конце каждого семестра.",
    "В Москве сегодня облачно, температура около пяти градусов.",
    "Библиотека работает с девяти утра до восьми вечера.",
    "يعمل الأطباء في المستشفى ليلا ونهارا لمساعدة المرضى.",
    "زرت القاهرة في الصيف الماضي مع عائلتي.",
    "تقع مكتبة الإسكندرية على شاطئ البحر الأبيض المتوسط.",
    "لاہور پاکستان کا دوسرا بڑا شہر ہے۔",
    "میں ہر روز صبح سویرے اٹھ کر ورزش کرتا ہوں۔",
    "اردو ایک خوبصورت زبان ہے جو بہت سے ممالک میں بولی جاتی ہے۔",
    "我每天早上七点起床，然后去学校上课。",
    "北京是中国的首都，有很多历史悠久的建筑。",
    "这本书讲述了一个关于友谊和勇气的故事。",
    "人工智能正在改变我们的生活方式。",
    "मेरा घर नदी के किनारे एक छोटे से गाँव में है।",
    "दिल्ली भारत की राजधानी है और यहाँ बहुत भीड़ रहती है।",
    "बच्चे स्कूल में हिंदी और अंग्रेज़ी दोनों सीखते हैं।",
    "Mwalimu aliwaambia wanafunzi wasome kitabu hicho kabla ya Ijumaa.",
    "Nairobi ni mji mkuu wa Kenya na una watu wengi sana.",
    "Tunapenda kula wali na samaki siku ya Jumapili.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Bugün hava çok güzel, parka yürüyüşe gidelim.",
    "Hà Nội là thủ đô của Việt Nam.",
    "Скоро ще има избори в България.",
    "日本の夏はとても暑いです。",
]

# held out from training; Thai and emoji are not in the training text, so they become <unk>
TEST_TEXTS = [
    "The results were published in a peer-reviewed journal in 2021.",
    "Le gouvernement français a annoncé une réforme des retraites.",
    "Die Kinder spielen Fußball auf dem Schulhof.",
    "Москва — столица России, в ней живёт более двенадцати миллионов человек.",
    "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "کراچی پاکستان کا سب سے بڑا شہر ہے اور یہ سمندر کے کنارے واقع ہے۔",
    "上海是中国最大的城市之一，也是重要的金融中心。",
    "गंगा भारत की सबसे पवित्र नदी मानी जाती है।",
    "Watoto wanapenda kucheza mpira baada ya masomo.",
    "Ο καιρός σήμερα είναι ηλιόλουστος.",
    "mixed: English, русский, العربية, 中文 and हिन्दी in one line",
    "emoji 😀 and Thai ภาษาไทย are unknown here 😀😀",
    "  leading, trailing   and  repeated   spaces  ",
    "tabs\tand\nnewlines",
    "numbers 12345 and 3.14159, punctuation!?;:",
    "ＦＵＬＬＷＩＤＴＨ letters, ligature ﬁ and circled ① (NFKC)",
    "",
    "x",
]


@pytest.fixture(scope="session")
def spm_models(tmp_path_factory):
    """Two tiny unigram models on generated multilingual text: one with <unk>-producing coverage."""
    root = tmp_path_factory.mktemp("spm")
    rng = random.Random(0)
    lines = []
    for _ in range(600):
        parts = rng.sample(TRAIN_SENTENCES, rng.randint(1, 3))
        if rng.random() < 0.3:
            parts.insert(rng.randint(0, len(parts)), str(rng.randint(0, 99999)))
        lines.append(" ".join(parts))
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    models = {}
    for vocab_size, coverage in ((300, 0.9995), (500, 1.0)):
        prefix = root / f"spm_{vocab_size}"
        models[vocab_size] = train_sentencepiece(corpus, prefix, vocab_size, coverage)
    return models


@pytest.fixture(scope="session", params=[300, 500])
def tokenizers(request, spm_models, tmp_path_factory):
    """(ours, HF) on the same model file; HF reads it from a directory, as from_pretrained users do."""
    spm_path = spm_models[request.param]
    hf_dir = tmp_path_factory.mktemp(f"hf_tok_{request.param}")
    shutil.copyfile(spm_path, hf_dir / "sentencepiece.bpe.model")
    return XLMRTokenizer(spm_path), XLMRobertaTokenizer.from_pretrained(hf_dir)


def test_vocabularies_align(tokenizers):
    ours, hf = tokenizers
    assert len(hf) == ours.vocab_size
    assert (hf.bos_token_id, hf.pad_token_id, hf.eos_token_id, hf.unk_token_id) == (0, 1, 2, 3)
    assert hf.mask_token_id == ours.mask_id == ours.vocab_size - 1
    pieces = [ours.sp.id_to_piece(i) for i in range(3, len(ours.sp))]
    assert hf.convert_ids_to_tokens(list(range(4, ours.vocab_size - 1))) == pieces


@pytest.mark.parametrize("text", TEST_TEXTS + TRAIN_SENTENCES)
def test_single_texts_match_hf(tokenizers, text):
    ours, hf = tokenizers
    assert ours.encode(text) == hf(text)["input_ids"]


def test_unknown_characters_map_to_unk(spm_models):
    ours = XLMRTokenizer(spm_models[300])
    assert ours.unk_id in ours.encode("ภาษาไทย 😀")


def test_pairs_match_hf(tokenizers):
    ours, hf = tokenizers
    rng = random.Random(1)
    texts = TEST_TEXTS + TRAIN_SENTENCES
    for _ in range(60):
        first, second = rng.choice(texts), rng.choice(texts)
        assert ours.encode(first, second) == hf(first, second)["input_ids"], (first, second)


def test_batch_encode_lines_matches_hf(tokenizers):
    ours, hf = tokenizers
    flat, lengths = ours.encode_lines(TEST_TEXTS)
    expected = [hf(t, add_special_tokens=False)["input_ids"] for t in TEST_TEXTS]
    assert lengths.tolist() == [len(ids) for ids in expected]
    assert flat.tolist() == [i for ids in expected for i in ids]


def test_literal_special_token_text_is_plain_text(tokenizers):
    # The one known difference: HF matches "<mask>", "<s>"... typed in the raw text as special
    # tokens; ours (like fairseq's encode_line) spells them with ordinary pieces.
    ours, hf = tokenizers
    text = "fill the <mask> here"
    assert hf.mask_token_id in hf(text)["input_ids"]
    assert ours.mask_id not in ours.encode(text)
    assert ours.encode("fill the") == hf("fill the")["input_ids"]


def _plain(text: str) -> bool:
    """SentencePiece's NFKC leaves the text as is, so pieces spell the original characters."""
    return unicodedata.normalize("NFKC", text) == text


@pytest.mark.parametrize("text", TEST_TEXTS)
def test_offsets_map_pieces_to_their_characters(tokenizers, text):
    ours, _ = tokenizers
    ids, offsets = encode_with_offsets(ours, text)
    assert ids == ours.encode(text)
    assert offsets[0] == offsets[-1] == (0, 0)
    raw_ids, raw_offsets = pieces_with_offsets(ours, text)
    assert (raw_ids, raw_offsets) == (ids[1:-1], offsets[1:-1])
    pieces = ours.sp.encode(text, out_type=str)
    previous_end = 0
    for piece, token_id, (start, end) in zip(pieces, raw_ids, raw_offsets, strict=True):
        assert 0 <= start <= end <= len(text) and start >= previous_end
        assert not text[start:end][:1].isspace()
        if piece == "▁":  # a word boundary on its own covers no character
            assert start == end
        elif token_id != ours.unk_id and _plain(text):
            assert text[start:end] == piece.lstrip("▁")
        previous_end = end


@pytest.mark.parametrize("text", TEST_TEXTS)
def test_offsets_agree_with_hf_offset_mapping(tokenizers, text):
    # HF gives a lone "▁" its following word's first character; every other span is identical
    ours, hf = tokenizers
    ids, offsets = encode_with_offsets(ours, text)
    hf_encoding = hf(text, return_offsets_mapping=True)
    assert hf_encoding["input_ids"] == ids
    tokens = hf.convert_ids_to_tokens(ids)
    for token, ours_span, hf_span in zip(tokens, offsets, hf_encoding["offset_mapping"], strict=True):
        if token == "▁":
            assert ours_span[0] == hf_span[0] and ours_span[0] == ours_span[1]
        elif _plain(text):
            assert ours_span == tuple(hf_span), token


def test_pair_offsets_index_into_each_text(tokenizers):
    ours, _ = tokenizers
    question, context = "Где живёт медведь?", "Бурый медведь живёт в лесу. 熊住在森林里。"
    ids, offsets = encode_with_offsets(ours, question, context)
    assert ids == ours.encode(question, context)
    n_question = len(ours.encode(question)) - 1  # <s> q </s>
    first = [text_span for text_span in offsets[1:n_question] if text_span[1] > text_span[0]]
    assert "".join(question[s:e] for s, e in first).replace(" ", "") == question.replace(" ", "")
    context_part = offsets[n_question + 2 : -1]  # after </s></s>, before the final </s>
    assert ids[n_question : n_question + 2] == [ours.eos_id, ours.eos_id]
    assert "".join(context[s:e] for s, e in context_part) == context.replace(" ", "")


@pytest.mark.parametrize(
    "context, answer",
    [
        ("Nairobi ni mji mkuu wa Kenya na una watu wengi.", "mji mkuu wa Kenya"),
        ("کراچی پاکستان کا سب سے بڑا شہر ہے۔", "سب سے بڑا شہر"),
        ("Москва — столица России.", "столица России"),
        ("上海是中国最大的城市之一。", "中国最大的城市"),
    ],
)
def test_answer_spans_round_trip_through_tokens(tokenizers, context, answer):
    # the SQuAD/MLQA pipeline: answer chars -> first/last token -> characters of the original context
    ours, _ = tokenizers
    start_char = context.index(answer)
    end_char = start_char + len(answer)
    _, offsets = pieces_with_offsets(ours, context)
    overlapping = [i for i, (s, e) in enumerate(offsets) if e > s and s < end_char and e > start_char]
    recovered = context[offsets[overlapping[0]][0] : offsets[overlapping[-1]][1]]
    if " " in answer:  # words are whole pieces, so the answer is exactly a run of tokens
        assert recovered == answer
    else:  # without spaces a piece may run past the answer ("城市之"): the run covers it
        assert answer in recovered
