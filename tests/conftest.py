import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from xlmr_lit.cli import CONF_DIR

EXPERIMENTS_DIR = Path(__file__).parents[1] / "experiments"


def sweep_params(experiment: str) -> dict[str, list[str]]:
    """An experiments file's swept keys and their values, in the file's order."""
    path = next(EXPERIMENTS_DIR.rglob(f"{experiment}.yaml"))
    params = OmegaConf.load(path).hydra.sweeper.params
    return {key: str(values).split(",") for key, values in params.items()}

# Microscopic settings that exercise the real code paths in seconds.
TINY = [
    "data.languages=[en,fr,sw]",
    "data.tokens_per_sample=64",
    "data.micro_batch_size=4",
    "data.num_workers=0",
    "data.num_proc=1",
    "train.global_batch_size=8",
    "train.val_every_n_steps=3",
    "train.checkpoint_every_n_steps=3",
    "optim.warmup_steps=2",
    "model.vocab_size=1000",
    "model.hidden_size=32",
    "model.num_hidden_layers=1",
    "model.num_attention_heads=2",
    "tokenizer.sample_lines=5000",
    "trainer.max_steps=6",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.log_every_n_steps=1",
    "logger.wandb.mode=disabled",
]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the whole session, so tests with the same corpus share tokenizer and shards."""
    return tmp_path_factory.mktemp("xlmr_cache")


@pytest.fixture
def make_cfg(cache_dir, tmp_path):
    def make(*overrides: str, run_dir: Path | None = None) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(
                "train",
                overrides=[
                    *TINY,
                    f"paths.cache_dir={cache_dir}",
                    f"paths.run_dir={run_dir or tmp_path / 'run'}",
                    *overrides,
                ],
            )

    return make


@pytest.fixture
def cli_env(cache_dir) -> dict:
    env = dict(os.environ, XLMR_LIT_CACHE=str(cache_dir), WANDB_MODE="disabled", HYDRA_FULL_ERROR="1")
    return env
