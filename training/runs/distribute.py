"""Data-parallel training (``train --distribute``) on the engines Keras already has, none of our own.

* TensorFlow (the default backend): :class:`tf.distribute.MirroredStrategy` over this machine's
  GPUs (or its logical CPU devices when there are several and no GPU), and
  :class:`tf.distribute.MultiWorkerMirroredStrategy` when ``TF_CONFIG`` names more than one
  worker.  The model, its optimizer and metrics are built in the strategy's scope; each step
  hands Keras' own compiled train function one slice of the global batch per replica
  (``strategy.experimental_distribute_values_from_function``), and the strategy all-reduces
  the gradients.
* JAX (``KERAS_BACKEND=jax``, the ``jax`` extra): :class:`keras.distribution.DataParallel` over
  ``keras.distribution.list_devices()``, set before the model is built; Keras shards each batch
  over the devices along its first axis (``jax.make_array_from_process_local_data``) inside
  ``train_on_batch``.  Across hosts, ``KERAS_DISTRIBUTION_NUM_PROCESSES`` > 1 (with
  ``KERAS_DISTRIBUTION_PROCESS_ID`` and ``KERAS_DISTRIBUTION_JOB_ADDRESSES``) makes
  ``keras.distribution.initialize`` (``jax.distributed.initialize``) join the processes first; the
  mesh is then every process's devices, and each process hands ``train_on_batch`` only the rows
  of the global batch its own devices hold (CPU collectives: gloo).

The rules, logged at the start of every distributed run:

* ``batch_size`` is per replica; the global batch is ``batch_size x replicas``, and the crops of
  global batch ``i`` are those a one-device run with that batch size draws (``(seed, epoch, i)``),
  so a distributed run and a one-device run with the same global batch see the same data.
* ``lr_scaling="linear"`` (default): the learning rate is ``learning_rate x replicas`` (Goyal et
  al. 2017, "Accurate, large minibatch SGD"), reached by a linear warm-up, step by step, from
  ``learning_rate`` over the first ``warmup_epochs`` epochs; ``"none"`` keeps ``learning_rate``.
  With one replica nothing changes.
* Batch norm: per replica on TensorFlow (each replica normalises its own slice, as Goyal et al.),
  over the global batch on JAX (one program over sharded arrays).

Every worker of a multi-worker run makes the whole global batch (the same, from the same seed)
and keeps its replicas' slices: the input pipeline costs each worker one global batch per step,
which the benchmark shows to be a fraction of a step's time.  The chief (worker 0: TF_CONFIG's
first worker, or JAX process 0) writes the run folder; worker ``k`` writes its own copy to
``<run>.worker<k>`` beside it, so each can resume.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from manifests.errors import UserError

from ..config import TrainConfig

if TYPE_CHECKING:
    import keras

    from ..data.sequences import Batch

log = logging.getLogger(__name__)

#: the environment variables Keras reads for a multi-process JAX run (``keras.distribution.initialize``)
JAX_PROCESSES_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"
JAX_PROCESS_ID_ENV = "KERAS_DISTRIBUTION_PROCESS_ID"
JAX_ADDRESSES_ENV = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
#: how long a JAX process waits for the coordinator's port: jax.distributed's own time-out
COORDINATOR_WAIT_S = 300.0


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a multi-worker run: worker ``index`` of ``count`` (0 is the chief)."""

    index: int = 0
    count: int = 1

    @property
    def chief(self) -> bool:
        return self.index == 0


def worker_role(environ: Mapping[str, str] | None = None) -> WorkerRole:
    """This process's role, from the environment (no backend needed).

    TensorFlow: ``TF_CONFIG``, chief first, then the workers.  JAX (``KERAS_BACKEND=jax``): the
    ``KERAS_DISTRIBUTION_*`` variables of :func:`keras.distribution.initialize`.  A malformed
    setting is a one-line error naming it.
    """
    env = os.environ if environ is None else environ
    if (env.get("KERAS_BACKEND") or "tensorflow").strip().lower() == "jax":
        return jax_role(env)
    text = env.get("TF_CONFIG", "").strip()
    if not text:
        return WorkerRole()
    try:
        spec = json.loads(text)
        cluster = spec["cluster"]
        chiefs = list(cluster.get("chief", []))
        workers = list(cluster.get("worker", []))
        kind, index = spec["task"]["type"], int(spec["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"TF_CONFIG: not a cluster spec with a task ({exc!r}); see training/README.md") from None
    if kind == "chief":
        return WorkerRole(0, len(chiefs) + len(workers))
    if kind != "worker" or not 0 <= index < len(workers):
        raise UserError(f"TF_CONFIG: task {kind!r} {index} is not one of the cluster's workers")
    return WorkerRole(index + len(chiefs), len(chiefs) + len(workers))


def jax_role(env: Mapping[str, str]) -> WorkerRole:
    """Process ``KERAS_DISTRIBUTION_PROCESS_ID`` of ``KERAS_DISTRIBUTION_NUM_PROCESSES`` (default: 0 of 1).

    Several processes need all three variables: the coordinator's address (process 0's
    ``host:port``; or every process's, comma-separated, the first being the coordinator) is
    checked here, so that a typo is one line now rather than a hang in ``jax.distributed``.
    """
    text = env.get(JAX_PROCESSES_ENV, "").strip()
    if not text:
        return WorkerRole()
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"{JAX_PROCESSES_ENV}={text!r}: not a number of processes (1 or more)")
    if count == 1:
        return WorkerRole()
    ident = env.get(JAX_PROCESS_ID_ENV, "").strip()
    try:
        index = int(ident)
    except ValueError:
        index = -1
    if not 0 <= index < count:
        raise UserError(f"{JAX_PROCESS_ID_ENV}={ident!r}: not a process id from 0 to {count - 1} "
                        f"({JAX_PROCESSES_ENV}={count})")
    addresses = [a.strip() for a in env.get(JAX_ADDRESSES_ENV, "").split(",") if a.strip()]
    if not addresses:
        raise UserError(f"{JAX_ADDRESSES_ENV} is not set: the coordinator's host:port (process 0) for "
                        f"{count} JAX processes")
    if len(addresses) > 1 and len(addresses) != count:
        raise UserError(f"{JAX_ADDRESSES_ENV}: {len(addresses)} addresses for {count} processes")
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UserError(f"{JAX_ADDRESSES_ENV}: {address!r} is not host:port")
    return WorkerRole(index, count)


@dataclass
class Replicas:
    """How a run's steps are spread: one device (Keras' own ``train_on_batch``) or data-parallel."""

    engine: str = "single device"
    #: replicas in sync, all workers together (the global batch is ``batch_size x count``)
    count: int = 1
    role: WorkerRole = dataclasses.field(default_factory=WorkerRole)
    strategy: Any = None
    distribution: Any = None
    _step: tuple[tuple[int, int, bool], Any] | None = dataclasses.field(default=None, repr=False)
    _rows: dict[int, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def distributed(self) -> bool:
        return self.strategy is not None or self.distribution is not None

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Where the model, optimizer and metrics must be created (the strategy's variables)."""
        if self.strategy is not None:
            with self.strategy.scope():
                yield
        else:
            yield

    def global_batch(self, config: TrainConfig) -> int:
        return config.batch_size * self.count

    def batch_config(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the global batch: what the sequences cut their batches to."""
        if self.count == 1:
            return config
        return dataclasses.replace(config, batch_size=self.global_batch(config))

    def lr_scale(self, config: TrainConfig) -> int:
        """What the learning rate is multiplied by: the replicas with linear scaling, else 1."""
        return self.count if config.distribute and config.lr_scaling == "linear" else 1

    def peak_learning_rate(self, config: TrainConfig) -> float:
        return config.learning_rate * self.lr_scale(config)

    def warming(self, config: TrainConfig, epoch: int) -> bool:
        """Whether ``epoch`` is (partly) a warm-up epoch, whose steps set the learning rate themselves."""
        return self.warmup_rate(config, epoch, 0, 1) is not None

    def warmup_rate(self, config: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float | None:
        """The learning rate of this step while warming up; None once warm (or when nothing is scaled)."""
        peak = self.peak_learning_rate(config)
        total = config.warmup_epochs * steps_per_epoch
        done = epoch * steps_per_epoch + step + 1
        if peak == config.learning_rate or total == 0 or done > total:
            return None
        return config.learning_rate + (peak - config.learning_rate) * done / total

    def describe(self, config: TrainConfig) -> str:
        """The scaling rules of this run, for the log."""
        if not self.distributed:
            return f"one device: batch {config.batch_size}, learning rate {config.learning_rate:g}"
        peak = self.peak_learning_rate(config)
        lr = (f"learning rate {config.learning_rate:g} x {self.count} = {peak:g} (linear scaling), warmed up "
              f"linearly from {config.learning_rate:g} over {config.warmup_epochs} epoch(s)"
              if peak != config.learning_rate else f"learning rate {config.learning_rate:g} (not scaled)")
        return (f"data-parallel on {self.count} replicas ({self.engine}, worker {self.role.index + 1} of "
                f"{self.role.count}): global batch {config.batch_size} x {self.count} = "
                f"{self.global_batch(config)} crops; {lr}")

    # ------------------------------------------------------------ steps

    def prepare(self, model: keras.Model) -> None:
        """Build the optimizer's variables in the strategy's scope (a checkpoint may then be loaded)."""
        with self.scope():
            model.optimizer.build(model.trainable_variables)

    def train_step(self, model: keras.Model, batch: Batch) -> dict[str, float]:
        """One optimizer step on a global batch; the batch's loss and metrics."""
        x, y = batch[0], batch[1]
        weights = batch[2] if len(batch) > 2 else None
        if self.distributed and len(x) % self.count:  # only when the split has less than one global batch
            raise UserError(f"a training batch of {len(x)} crops does not split over {self.count} replicas: the "
                            "training split has fewer crops than one global batch (--batch-size x replicas); "
                            "lower --batch-size or raise --crops-per-track")
        if self.strategy is None:  # one device, or JAX: Keras shards the batch in train_on_batch
            if self.role.count > 1:  # several JAX processes: each hands over the rows its devices hold
                rows = self._process_rows(len(x))
                x, y = x[rows], y[rows]
                weights = None if weights is None else weights[rows]
            logs = model.train_on_batch(x, y, sample_weight=weights, return_dict=True)
            return {key: float(value) for key, value in logs.items()}
        model.reset_metrics()  # as train_on_batch: the logs are this batch's
        parts = (x, y) if weights is None else (x, y, weights)
        logs = self._step_function(model)(self._per_replica(parts))
        return {key: float(np.asarray(value)) for key, value in logs.items()}

    def _process_rows(self, n: int) -> np.ndarray:
        """The rows of an ``n``-row global batch that this JAX process's devices hold, in device order.

        What ``jax.make_array_from_process_local_data`` expects of each process's data for the
        batch-sharded layout Keras gives the inputs (rows ``[p * n / P, (p + 1) * n / P)`` when
        every process has as many devices and ``list_devices()`` lists them process by process).
        """
        if n not in self._rows:
            sharding = self.distribution.get_data_layout((n,)).backend_layout
            spans = sorted({(index[0].start or 0, n if index[0].stop is None else index[0].stop)
                            for index in sharding.addressable_devices_indices_map((n,)).values()})
            self._rows[n] = np.concatenate([np.arange(start, stop) for start, stop in spans])
        return self._rows[n]

    def _step_function(self, model: keras.Model) -> Any:
        """Keras' own ``train_step`` on every replica (``strategy.run``), its logs averaged over replicas.

        Keras' ``train_function`` would do the same on one worker, but its reduction of the logs
        fails across workers (``strategy.reduce(..., axis=0)`` of a scalar), so the step is wrapped
        here: compiled with XLA when the model is, rebuilt when the model is compiled again.
        """
        key = (id(model), id(model.optimizer), bool(model.jit_compile))
        if self._step is None or self._step[0] != key:
            import tensorflow as tf

            strategy = self.strategy
            replica_step = tf.function(model.train_step, jit_compile=bool(model.jit_compile),
                                       reduce_retracing=True)

            def step(data: Any) -> Any:
                logs = strategy.run(replica_step, args=(data,))
                return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

            self._step = (key, tf.function(step, reduce_retracing=True))
        return self._step[1]

    def predict(self, model: keras.Model, x: np.ndarray) -> np.ndarray:
        """The model's outputs for a batch of any size, every replica predicting its slice."""
        if self.strategy is None:
            return np.asarray(model.predict_on_batch(x), dtype=np.float64)
        n = len(x)
        padded = -(-n // self.count) * self.count
        if padded != n:  # every replica gets an equal slice: repeat the last row, cut it off after
            x = np.concatenate([x, np.repeat(x[-1:], padded - n, axis=0)])
        model.make_predict_function()
        out = model.predict_function([self._per_replica((x,))])
        return np.asarray(out, dtype=np.float64)[:n]

    def _per_replica(self, arrays: tuple[np.ndarray, ...]) -> Any:
        """Replica ``k`` of ``count`` gets rows ``[k * n / count, (k + 1) * n / count)`` of each array."""
        def slices(context: Any) -> tuple[np.ndarray, ...]:
            k, count = context.replica_id_in_sync_group, context.num_replicas_in_sync
            per = len(arrays[0]) // count
            return tuple(a[k * per: (k + 1) * per] for a in arrays)

        return self.strategy.experimental_distribute_values_from_function(slices)

    def close(self) -> None:
        """Forget the JAX distribution (a later model in this process is a plain one again)."""
        if self.distribution is not None:
            import keras

            keras.distribution.set_distribution(None)


SINGLE = Replicas()


def check_backend(backend: str | None = None) -> str:
    """The Keras backend ``--distribute`` will use, or a one-line error when it cannot."""
    name = (backend or os.environ.get("KERAS_BACKEND") or "tensorflow").strip().lower()
    if name not in ("tensorflow", "jax"):
        raise UserError(f"KERAS_BACKEND={name}: --distribute runs on tensorflow (MirroredStrategy) or jax "
                        "(keras.distribution.DataParallel)")
    if importlib.util.find_spec(name) is None:
        extra = "jax" if name == "jax" else "train"
        raise UserError(f"KERAS_BACKEND={name} but {name} is not installed: pip install -e '.[{extra}]'")
    return name


def start_distribution(config: TrainConfig) -> Replicas:
    """The engine for ``config``: :data:`SINGLE` unless ``config.distribute``.

    Call before the model is built (and, for a multi-worker run, before TensorFlow runs anything).
    """
    if not config.distribute:
        return SINGLE
    backend = check_backend()
    import keras

    if keras.backend.backend() != backend:
        raise UserError(f"KERAS_BACKEND={backend} but Keras runs on {keras.backend.backend()} in this process")
    if backend == "jax":
        role = worker_role()
        engine = "keras.distribution.DataParallel"
        if role.count > 1:
            _join_jax_processes(role)
            engine = "jax.distributed + keras.distribution.DataParallel"
        devices = keras.distribution.list_devices()  # every process's, in process order
        distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(distribution)
        return Replicas(engine, len(devices), role, distribution=distribution)
    tf = importlib.import_module("tensorflow")
    role = worker_role()
    if role.count > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        engine = "tf.distribute.MultiWorkerMirroredStrategy"
    else:
        gpus = tf.config.list_logical_devices("GPU")
        cpus = tf.config.list_logical_devices("CPU")
        devices = [d.name for d in gpus] if gpus else [d.name for d in cpus] if len(cpus) > 1 else None
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        engine = "tf.distribute.MirroredStrategy"
    return Replicas(engine, int(strategy.num_replicas_in_sync), role, strategy=strategy)


def wait_for_coordinator(address: str, timeout: float = COORDINATOR_WAIT_S) -> None:
    """Return once ``address`` (``host:port``) accepts a TCP connection; a one-line error after ``timeout`` s."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=min(5.0, timeout)):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise UserError(f"{JAX_ADDRESSES_ENV}: the coordinator (JAX process 0) at {address} did not "
                                f"answer within {timeout:g} s ({exc.strerror or exc})") from None
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _join_jax_processes(role: WorkerRole) -> None:
    """``keras.distribution.initialize()`` (``jax.distributed.initialize`` from the environment), once per process.

    It must come before JAX computes anything.  On CPU the processes all-reduce through gloo,
    jax's default in 0.10 (on a version whose default is none, gloo is asked for here).  jax
    aborts the whole process (a C++ fatal error) when the coordinator never answers, so the
    other processes first wait for its port themselves: a wrong address is one line.
    """
    import jax
    import keras

    if jax.distributed.is_initialized():  # an earlier run in this process joined already
        if jax.process_count() != role.count or jax.process_index() != role.index:
            raise UserError(f"{JAX_PROCESSES_ENV}: this process already runs as JAX process "
                            f"{jax.process_index()} of {jax.process_count()}")
        return
    config: Any = jax.config  # its options are dynamic attributes
    if getattr(config, "jax_cpu_collectives_implementation", "gloo") in (None, "none"):
        config.update("jax_cpu_collectives_implementation", "gloo")
    coordinator = os.environ[JAX_ADDRESSES_ENV].split(",")[0].strip()
    log.info("JAX process %d of %d: joining the coordinator at %s", role.index, role.count, coordinator)
    if not role.chief:
        wait_for_coordinator(coordinator)
    try:
        keras.distribution.initialize()
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{JAX_ADDRESSES_ENV}={coordinator}: JAX processes could not join ({first})") from None
