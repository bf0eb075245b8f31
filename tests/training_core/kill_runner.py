"""Trains the resume test's run in a process of its own and kills it, for real, in the middle of an epoch.

``python -m tests.training_core.kill_runner DATA RUN EPOCHS KILL_IN_EPOCH``: trains
:func:`resume_config` for ``EPOCHS`` epochs and sends itself SIGKILL after the second
batch of epoch ``KILL_IN_EPOCH`` (1-based): no ``finally``, no ``atexit``, no flush, as
when the out-of-memory killer or a power cut ends a run.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import keras

from manifests.layout import Layout
from training.config import TrainConfig
from training.runs.train import train


def resume_config(epochs: int) -> TrainConfig:
    """A tiny run that uses every random and stateful part of training.

    Dropout and the front end's pitch shift (the model's seed generators), time stretch,
    noise and mixup (numpy), loss weights, two batch threads, and a plateau schedule that
    halves the learning rate after one epoch without improvement.
    """
    config = TrainConfig(model="cnn_bn", width=4, epochs=epochs, batch_size=8, crops_per_track=2,
                         val_crops_per_track=2, lr_patience=1, early_stopping_patience=3, workers=2)
    config.features.crop_seconds = 1.0
    config.features.n_mels = 32
    config.augment.mixup_alpha = 0.3
    return config


class KillMidEpoch(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.kill_in = epoch - 1  # Keras counts epochs from 0
        self.epoch = -1

    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: object = None) -> None:
        if self.epoch == self.kill_in and batch == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    data, run, epochs, kill_in = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    train(Layout.at(data), resume_config(epochs), run_name=run, progress=False, callbacks=[KillMidEpoch(kill_in)])
    return 0  # not reached when the kill comes


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
