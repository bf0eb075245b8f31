"""Fixtures: one tiny real run (the training_eval recipe), evaluated, loaded once for the whole package.

The run is a LogMel -> average -> Dense model fitted for seconds on three tone 'genres'
(``tests/training_eval``), so the server is tested against a real saved Keras model.
``served`` counts how often a model file is loaded: the server must do it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from manifests import Layout
from tests.training_eval.conftest import make_run
from tests.training_eval.corpus import RATE, make_corpus, tone


@dataclass
class Served:
    run: Path
    layout: Layout
    worker: Any  # training.serve.model.ModelWorker
    loads: list[str]


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from training.cli import main
    from training.runs import bundle as bundle_module
    from training.runs.rundir import RunDir
    from training.serve import model as model_module
    from training.serve.app import warm_up

    layout = make_corpus(tmp_path_factory.mktemp("data"), {"train": 6, "validation": 2, "test": 2},
                         seconds=2.0, seed=11)
    run = make_run(layout.runs / "tiny", layout, "single")
    assert main(["evaluate", str(run), "--data", str(layout.root), "--no-baseline", "-q"]) == 0
    loads: list[str] = []

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(str(args[0]))
        return bundle_module.load_bundle(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_module, "load_bundle", counting_load)
        worker = model_module.ModelWorker(model_module.ServedModel(RunDir(run)))
        warm_up(worker)
        try:
            yield Served(run, layout, worker, loads)
        finally:
            worker.close()


@pytest.fixture(scope="package")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A WAV per genre (3.5 s), a 44.1 kHz stereo MP3 of the chiptune one, and files that are not audio."""
    import subprocess

    from manifests.audio import ffmpeg_exe

    folder = tmp_path_factory.mktemp("songs")
    out: dict[str, Path] = {}
    for k, genre in enumerate(("ambient", "chiptune", "noise")):
        path = folder / f"{genre} song.wav"
        sf.write(path, tone(genre, 3.5, np.random.default_rng(30 + k)), RATE, subtype="PCM_16")
        out[genre] = path
    out["mp3"] = folder / "chiptune.mp3"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(out["chiptune"]), "-ac", "2", "-ar",
                    "44100", "-codec:a", "libmp3lame", "-b:a", "128k", str(out["mp3"])], check=True)
    out["text"] = folder / "notes.mp3"
    out["text"].write_text("these are my notes, not a song\n" * 50)
    out["long"] = folder / "long.wav"
    sf.write(out["long"], tone("ambient", 5.0, np.random.default_rng(40)), RATE, subtype="PCM_16")
    return out
