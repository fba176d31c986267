"""Library messages that a user of this project cannot act on, silenced so the warnings that matter show."""

import logging
import warnings

NOISE = [
    r".*ckpt_path=None\)` was called without a model",       # validate() after fit(): the fitted weights, as meant
    r"The number of training batches .* is smaller than the logging interval",  # steps are counted over epochs
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",     # inside Lightning
]


class DropMessages(logging.Filter):
    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(f in record.getMessage() for f in self.fragments)


LITLOGGER_TIP = DropMessages("litlogger")  # Lightning's advertisement, logged at every Trainer start


def silence_noise() -> None:
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(LITLOGGER_TIP)
