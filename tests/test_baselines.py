"""The paper's baselines through our tasks: tiny random BERT and XLM directories in the hub's layout
(tests/tiny_hf_baselines.py), loaded with AutoModel/AutoTokenizer.from_pretrained as online."""

import json

import pytest
import torch

from tiny_hf_baselines import build_tiny_bert, build_tiny_xlm  # tests/tiny_hf_baselines.py
from xlmr_lit.cli import train
from xlmr_lit.hf_encoder import HFTokenizer, transformers_directory
from xlmr_lit.tasks import ner, qa
from xlmr_lit.tasks.features import featurize_pairs, pad_collate
from xlmr_lit.tasks.readers import Answer, QAExample, SentencePair, TaggedSentence

FT = ["task.udhr_standin=true", "task.epochs=1", "task.batch_size=16", "task.max_train_examples=32",
      "trainer.enable_progress_bar=false", "trainer.limit_train_batches=2"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def xlm(tmp_path_factory):
    return build_tiny_xlm(tmp_path_factory.mktemp("tiny_xlm"), languages=("en", "fr", "sw", "de", "es", "nl"))


def tokenizer_of(directory):
    from transformers import AutoConfig

    return HFTokenizer(directory, AutoConfig.from_pretrained(directory))
