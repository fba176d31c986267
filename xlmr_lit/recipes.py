"""Published fine-tuning recipes: `task.recipe=<name>` runs a task with the settings a paper or benchmark states.

The recipes live in each task's config file (`recipes:` in conf/task/<task>.yaml), each with its source and the
scores that source reports (`expected`, drawn by `xlmr-plot`). A recipe's values replace the task keys they name
(whatever set them, `task.standin_recipe` included), `callbacks.early_stopping.patience` and
`trainer.gradient_clip_val`; change one for a run as `task.recipes.<name>.<key>=...`.
"""

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

TASK_CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "task"
TASK_KEYS = ("batch_size", "lr", "epochs", "max_length", "weight_decay", "warmup_ratio", "warmup_steps",
             "batches_per_epoch", "adam_betas", "adam_eps")


@dataclass(frozen=True)
class Recipe:
    """A fine-tuning recipe as its source states it; None: not stated there, the task's own setting is kept."""

    source: str
    # {benchmark: {model and where the number is printed: test score}}: what the source reports, in percent
    expected: dict
    batch_size: int | None = None  # examples per optimizer step (per device)
    lr: float | None = None
    epochs: int | None = None
    max_length: int | None = None
    weight_decay: float | None = None
    warmup_ratio: float | None = None
    warmup_steps: int | None = None  # replaces warmup_ratio
    batches_per_epoch: int | None = None  # an epoch of this many batches (validation after each); None: one pass
    adam_betas: list | None = None
    adam_eps: float | None = None
    early_stopping_patience: int | None = None  # callbacks.early_stopping.patience
    gradient_clip_val: float | None = None  # trainer.gradient_clip_val (max gradient norm)

    def task_settings(self) -> dict:
        return {key: getattr(self, key) for key in TASK_KEYS if getattr(self, key) is not None}

    def run_settings(self) -> dict:
        """The settings outside task.* that the recipe names, as `{config key: value}`."""
        settings = {"callbacks.early_stopping.patience": self.early_stopping_patience,
                    "trainer.gradient_clip_val": self.gradient_clip_val}
        return {key: value for key, value in settings.items() if value is not None}


RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe))


def recipe_problems(task: DictConfig, prefix: str = "task") -> list[str]:
    """What is wrong with `<prefix>.recipe` and its entry in `<prefix>.recipes`: an unknown name (listing the known
    ones) or a key that is not a recipe setting. Values are checked with the task's own keys (config_checks)."""
    name = task.get("recipe")
    if name is None:
        return []
    recipes = task.get("recipes") or {}
    if name not in recipes:
        where = f"{prefix}.recipes, conf/task/{task.get('name')}.yaml"
        if not recipes:
            return [f"{prefix}.recipe={name!r}: expected null, task={task.get('name')} has no recipes ({where})"]
        return [f"{prefix}.recipe={name!r}: expected null or one of {', '.join(recipes)} ({where})"]
    entry = recipes[name]
    unknown = [key for key in entry if key not in RECIPE_FIELDS]
    missing = [key for key in ("source", "expected") if key not in entry]
    return ([f"{prefix}.recipes.{name}.{key}: not a recipe setting; expected one of {', '.join(RECIPE_FIELDS)}"
             for key in unknown]
            + [f"{prefix}.recipes.{name}: has no {key} (where the values are stated, and what it reports)"
               for key in missing])


def task_recipe(task: DictConfig) -> Recipe | None:
    """The Recipe named by task.recipe (None without one); check_config has refused unknown names and keys."""
    if task.get("recipe") is None:
        return None
    return Recipe(**OmegaConf.to_container(task.recipes[task.recipe], resolve=True))


def apply_recipe(cfg: DictConfig, task: DictConfig) -> tuple[DictConfig, DictConfig]:
    """(cfg, task) with task.recipe's settings in place of those it names; the same objects without a recipe."""
    recipe = task_recipe(task)
    if recipe is None:
        return cfg, task
    task = OmegaConf.merge(task, recipe.task_settings())
    if recipe.warmup_steps is None and "warmup_ratio" in recipe.task_settings():
        task.warmup_steps = None
    cfg = copy.deepcopy(cfg)  # the run's own config (DONE, config_resolved.yaml) stays as composed
    with open_dict(cfg):
        for key, value in recipe.run_settings().items():
            OmegaConf.update(cfg, key, value, force_add=True)
    return cfg, task


def describe(task: DictConfig) -> str:
    """One log line: the recipe, its source and the settings it set."""
    recipe = task_recipe(task)
    settings = {**{f"task.{k}": v for k, v in recipe.task_settings().items()}, **recipe.run_settings()}
    return (f"task.recipe={task.recipe} ({recipe.source}): " + ", ".join(f"{k}={v}" for k, v in settings.items())
            + f"; the task's other settings are its own (task.recipes.{task.recipe} in conf/task/{task.name}.yaml)")


def expected_scores(task_name: str, recipe_name: str, benchmark: str) -> dict[str, float]:
    """{label: score} that recipe's source reports for `benchmark` (conf/task/<task>.yaml); {} if none."""
    path = TASK_CONF_DIR / f"{task_name}.yaml"
    if not path.is_file():
        return {}
    recipes = OmegaConf.to_container(OmegaConf.load(path)).get("recipes") or {}
    return dict((recipes.get(recipe_name) or {}).get("expected", {}).get(benchmark) or {})
