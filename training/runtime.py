"""Where the model runs, and quietly: device, mixed precision, step compilation, TensorFlow's start-up noise.

TensorFlow prints a dozen lines on every start (no CUDA driver, ``cuInit`` failed, oneDNN
and CPU-instruction notices, "Unable to register cuDNN factory", ...) before a command says
anything, and some of them come from C++ before ``TF_CPP_MIN_LOG_LEVEL`` is read.  So:

* every training command calls :func:`quiet_tensorflow` before anything imports TensorFlow;
* the code that first needs Keras calls :func:`start_backend`, which imports it and asks for
  the device with file descriptor 2 going through a filter that drops exactly the known
  start-up lines (:data:`NOISE`) and passes everything else on, real errors included;
* with ``-vv`` nothing is set and nothing is filtered.

Nothing happens at import time; the filter is on by default for code that calls
:func:`start_backend` without going through a command line (tests, notebooks).
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Lines TensorFlow (and its CUDA and absl layers) print on start, whatever the machine has.
NOISE = re.compile(rb"""^(?:
    WARNING:\ All\ log\ messages\ before\ absl::InitializeLog\(\)\ is\ called
  | To\ enable\ the\ following\ instructions:.*rebuild\ TensorFlow
  | [IWE]\d{4}\ [\d:.]+\s+\d+\ [\w.]+:\d+\]\ (?:
        oneDNN\ custom\ operations\ are\ on
      | Could\ not\ find\ cuda\ drivers
      | failed\ call\ to\ cuInit
      | Unable\ to\ register\ cu(?:DNN|FFT|BLAS)\ factory
      | This\ TensorFlow\ binary\ is\ optimized
      | TF-TRT\ Warning
      | computation\ placer\ already\ registered
    )
)""", re.VERBOSE)

#: ``TF_CPP_MIN_LOG_LEVEL`` of a quiet command: no C++ info or warnings, errors still shown.
TF_LOG_LEVEL = "2"


@dataclass
class _Quiet:
    filtering: bool = True


_QUIET = _Quiet()


def quiet_tensorflow(verbosity: int = 0) -> None:
    """Call before anything imports TensorFlow: its start-up notices stay off the terminal unless ``-vv``.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` to 2 unless the environment already chose a level, and turns
    on the filter :func:`start_backend` applies.  ``verbosity`` 2 (``-vv``) leaves both off.
    """
    _QUIET.filtering = verbosity < 2
    if _QUIET.filtering:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    else:
        log.debug("TensorFlow's start-up messages are not filtered (-vv)")


def start_backend() -> None:
    """Import Keras (and its backend) and find the device, with the known start-up lines filtered out."""
    with startup_noise_filter():
        import keras  # noqa: F401  (the import is the point: TensorFlow prints its notices now)

        accelerator()


def startup_noise_filter() -> AbstractContextManager[None]:
    """The filter :func:`start_backend` applies: :data:`NOISE` dropped from stderr, unless ``-vv``."""
    return filtered_stderr(NOISE) if _QUIET.filtering else nullcontext()


@contextmanager
def filtered_stderr(pattern: re.Pattern[bytes] = NOISE) -> Iterator[None]:
    """Drop the lines matching ``pattern`` that this process writes to file descriptor 2 meanwhile.

    C++ code writes to the descriptor directly, so it is pointed at a pipe whose reader thread
    passes every other line on to the real stderr as it comes.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not pattern.match(line):
                    try:
                        _write_all(saved, line)
                    except OSError:  # stderr went away (a closed pipe): drain quietly, nobody reads
                        pass

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader reaches its end
        thread.join(timeout=10)
        os.close(saved)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ---------------------------------------------------------------- device and precision

@functools.cache
def accelerator() -> str | None:
    """Name of the GPU the current Keras backend will use, or None on CPU (asked once per process)."""
    with startup_noise_filter():
        return _query_accelerator()


def _query_accelerator() -> str | None:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return str(gpus[0].name) if gpus else None
        if backend == "jax":
            device = importlib.import_module("jax").devices()[0]
            return None if device.platform == "cpu" else f"{device.platform}:{device.device_kind}"
        if backend == "torch":
            cuda = importlib.import_module("torch").cuda
            return f"cuda:{cuda.get_device_name(0)}" if cuda.is_available() else None
    except Exception as exc:  # a broken driver must not stop a CPU run
        log.warning("could not query the accelerator (%s); training on CPU", exc)
    return None


def use_mixed_precision(setting: str, device: str | None) -> bool:
    return setting == "on" or (setting == "auto" and device is not None)


def jit_setting(device: str | None) -> bool:
    """Compile the model's steps or not, per backend, as an explicit bool.

    TensorFlow: XLA only on a GPU (on CPU its compile time outweighs its gain).  JAX: always
    (uncompiled JAX is slow).  torch: eager; ``torch.compile`` recompiles for every new batch
    shape (the last batch of an evaluation) and gives up after eight.  Never ``"auto"``: set on
    a model after ``compile`` (a loaded bundle), Keras keeps the string and treats it as true.
    """
    import keras

    backend = str(keras.backend.backend())
    if backend == "tensorflow":
        return device is not None
    return backend == "jax"
