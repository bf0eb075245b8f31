"""Benchmark of the training input pipeline and training speed: ``python -m training.bench``.

Side by side, in one run and on the same audio:

* crops/s the input pipeline delivers (int16 memory-mapped cache, random crops,
  numpy augmentations), alone and together with the in-model log-mel front end;
* crops/s of the naive way: load the file and compute ``librosa.feature.melspectrogram``
  for every crop (the speed-up is the ratio; the goal is at least 20x);
* training steps/s (and crops/s) of the chosen model on this machine's device;
* peak memory per hour of cached audio against the int16 size (goal: at most 1.2x, or
  memory-mapped);
* pretrained embeddings (musicnn-MSD ``penultimate``, log-mel included, in the embedder's
  batches, on a cold cache of its own): seconds of audio embedded per second, with the
  original's back-to-back patches (goal: at least 25x real time; the original TF1 graph
  ran at about 16x on a 2-core CPU) and with the probe's half-overlapping ones; and the model
  alone on one batch, with XLA and without, side by side;
* the linear probe's training time on 1,000 cached tracks (synthetic embeddings:
  reading them from the cache, then C chosen by 5-fold cross-validation and the refit),
  as ``train`` fits it and with BLAS held to one thread.

Without ``--manifest`` it writes its own audio (tones, drums and noise) to a
temporary folder.  Prints a table and writes JSON (default ``data/bench/training.json``).
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, number, run_main, setup_logging
from manifests.config import usable_cores
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.io import Row
from manifests.layout import Layout

from .config import MODEL_NAMES, PRESETS, TrainConfig
from .runtime import accelerator, jit_setting, quiet_tensorflow, start_backend, use_mixed_precision

log = logging.getLogger(__name__)

SR = 16000


def _rss_mb() -> dict[str, float]:
    """Resident memory now (total, file-backed part) and the process peak, in MB (Linux /proc)."""
    out = {"rss": float("nan"), "rss_file": float("nan"), "peak": float("nan")}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssFile", "VmHWM"):
                out[{"VmRSS": "rss", "RssFile": "rss_file", "VmHWM": "peak"}[key]] = int(value.split()[0]) / 1024
    except OSError:
        out["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def generate_corpus(root: Path, n_tracks: int, seconds: float, seed: int = 0) -> tuple[Layout, list[Row]]:
    """Write ``n_tracks`` WAVs (four kinds of signal) and a training table; returns layout and rows."""

    import soundfile as sf

    from manifests.io import write_table
    from manifests.schema import TRAINING

    layout = Layout.at(root)
    layout.audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kinds = ("drone", "beat", "noise", "tones")
    splits = ("train", "train", "train", "validation", "test")
    rows = []
    t = np.arange(int(seconds * SR)) / SR
    for i in range(n_tracks):
        kind = kinds[i % len(kinds)]
        if kind == "drone":
            y = 0.4 * np.sin(2 * np.pi * rng.uniform(60, 200) * t)
        elif kind == "beat":
            y = 0.6 * np.sin(2 * np.pi * 55 * t) * (np.mod(t, 60 / rng.uniform(90, 170)) < 0.08)
        elif kind == "noise":
            y = 0.3 * np.tanh(2 * rng.standard_normal(t.size))
        else:
            y = 0.3 * np.sin(2 * np.pi * rng.uniform(500, 3000) * t * (1 + 0.01 * np.sin(t)))
        y = (y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
        track_id = f"bench{i:04d}"
        path = layout.audio_path(track_id)
        sf.write(path, y, SR, subtype="PCM_16")
        rows.append({"track_id": track_id, "title": f"bench {i}", "artists": [f"artist {i}"],
                     "genres": {kind: 1.0}, "top_genre": kind, "split": splits[(i // len(kinds)) % len(splits)],
                     "audio_path": layout.relative(path), "sample_rate": SR,
                     "audio_duration_s": round(seconds, 3), "sha256": sha256_file(path)})
    write_table(layout.table_path(TRAINING), TRAINING, rows)
    return layout, rows


def naive_crops_per_s(layout: Layout, rows: Sequence[Row], config: TrainConfig, n_crops: int, seed: int = 0) -> float:
    """Load the whole file (soundfile, as librosa.load does for WAV) and compute a log-mel per crop."""
    import librosa
    import soundfile as sf

    feats = config.features
    rng = np.random.default_rng(seed)
    crop = feats.crop_samples
    started = time.perf_counter()
    for _ in range(n_crops):
        row = rows[int(rng.integers(len(rows)))]
        y, rate = sf.read(layout.resolve(row["audio_path"]), dtype="float32")
        if y.ndim > 1:
            y = y.mean(axis=1)
        if rate != feats.sample_rate:
            y = librosa.resample(y, orig_sr=rate, target_sr=feats.sample_rate)
        start = int(rng.integers(0, max(1, y.size - crop)))
        mel = librosa.feature.melspectrogram(y=y[start: start + crop], sr=feats.sample_rate, n_fft=feats.n_fft,
                                             hop_length=feats.hop_length, n_mels=feats.n_mels)
        librosa.power_to_db(mel)
    return n_crops / max(time.perf_counter() - started, 1e-9)


def embedding_bench(layout: Layout, rows: Sequence[Row], n_tracks: int, batch_size: int | None = None,
                    rounds: int = 3) -> dict[str, Any]:
    """Real time factors of ``embed_tracks`` on ``n_tracks`` files: back-to-back and half-overlapping patches.

    Everything a real ``embed`` does is timed (decoding, patching, log-mel, the model, pooling,
    the cache's atomic writes) on a cache folder of its own, so nothing is read back.  The
    model is loaded (and its batch shape traced) before the clock starts.  Then the model
    alone (log-mel included) on one batch of real patches, compiled by XLA or not, side by
    side (:func:`embedding_model_bench`).
    """
    from .data.embeddings import EmbeddingSettings
    from .runs.embed import Embedder, decode_wave, embed_tracks

    chosen = list(rows[:max(1, n_tracks)])
    batch = Embedder(EmbeddingSettings(), batch_size).batch_size  # the backend's default unless given
    out: dict[str, Any] = {"embed_model": "musicnn-MSD", "embed_layer": "penultimate",
                           "embed_tracks": len(chosen), "embed_batch": batch}
    with tempfile.TemporaryDirectory(prefix="genre-bench-embed-") as tmp:
        for name, overlap in (("back_to_back", 0.0), ("half_overlap", 0.5)):
            settings = EmbeddingSettings(overlap=overlap)
            embedder = Embedder(settings, batch)
            embedder.embed_wave(np.zeros(embedder.spec.spectrogram.patch_samples, np.float32))  # load + trace
            done = embed_tracks(layout, chosen, settings, progress=False, embedder=embedder,
                                cache_root=Path(tmp) / name)
            stats = done.stats
            out[f"embed_{name}_audio_s"] = round(stats.audio_seconds, 1)
            out[f"embed_{name}_patches"] = stats.patches
            out[f"embed_{name}_seconds"] = round(stats.seconds, 2)
            out[f"embed_{name}_x_real_time"] = round(stats.real_time_factor or 0.0, 1)
            out[f"embed_{name}_patches_per_s"] = round(stats.patches / max(stats.seconds, 1e-9), 1)
    wave = np.concatenate([decode_wave(layout.resolve(row["audio_path"]), SR) for row in chosen[:4]])
    out.update(embedding_model_bench(wave, batch, rounds))
    return out


def embedding_model_bench(wave: np.ndarray, batch_size: int, rounds: int) -> dict[str, Any]:
    """musicnn-MSD alone (log-mel to ``penultimate``) on one batch of ``wave``'s patches, XLA off and on.

    Comparable with the original TF1 graph's ~16x (model only, batched).  The two variants
    alternate over ``rounds`` (medians), so a busy machine slows both alike; the first call of
    each (tracing, and XLA's compilation) is timed apart.  The embedder uses Keras' default
    for the backend (TensorFlow on a CPU: no XLA; JAX: always compiled); this shows why.
    """
    import keras

    from .models.pretrained.patches import patch_windows
    from .models.pretrained.tagger import load_pretrained

    model = load_pretrained("musicnn-MSD")
    windows, _ = patch_windows(wave, model.spec.spectrogram)
    windows = np.resize(windows, (batch_size, windows.shape[1]))  # repeats patches if the audio is short
    patch_s = model.spec.spectrogram.patch_hop_samples / model.sample_rate  # audio per back-to-back patch
    heads: dict[str, Any] = {}
    out: dict[str, Any] = {"embed_model_only_default_jit": bool(model.head(("penultimate",)).jit_compile)}
    for name, jit in (("eager", False), ("xla", True)):
        head = keras.Model(model.model.input, model.model.get_layer("penultimate").output)
        head.jit_compile = jit
        started = time.perf_counter()
        head.predict_on_batch(windows)
        out[f"embed_model_only_{name}_first_call_s"] = round(time.perf_counter() - started, 2)
        heads[name] = head
    timings: dict[str, list[float]] = {name: [] for name in heads}
    for _ in range(max(1, rounds)):
        for name, head in heads.items():
            started = time.perf_counter()
            head.predict_on_batch(windows)
            timings[name].append(time.perf_counter() - started)
    for name, values in timings.items():
        per_s = batch_size / float(np.median(values))
        out[f"embed_model_only_{name}_patches_per_s"] = round(per_s, 1)
        out[f"embed_model_only_{name}_x_real_time"] = round(per_s * patch_s, 1)
    return out


def probe_bench(n_tracks: int, n_labels: int = 9, seed: int = 0) -> dict[str, Any]:
    """Seconds to train the linear probe on ``n_tracks`` cached embeddings (synthetic, 200 values each).

    The fit is timed as ``train`` runs it, then again with the BLAS libraries held to one
    thread (``threadpoolctl``): scikit-learn's small matrix products can lose many times over
    to thread hand-offs when the cores are busy, and the pair shows what that costs here.
    """
    import hashlib

    from threadpoolctl import threadpool_limits

    from .config import ProbeConfig
    from .data.embeddings import EmbeddingCache, EmbeddingSettings
    from .runs.probe import fit_probe

    rng = np.random.default_rng(seed)
    labels = np.arange(n_tracks) % n_labels
    centres = rng.standard_normal((n_labels, 200))
    vectors = (centres[labels] * 0.5 + rng.standard_normal((n_tracks, 200))).astype(np.float32)
    settings = ProbeConfig()
    with tempfile.TemporaryDirectory(prefix="genre-bench-probe-") as tmp:
        cache = EmbeddingCache(Path(tmp), EmbeddingSettings(), 200)
        keys = [hashlib.sha256(f"bench track {i}".encode()).hexdigest() for i in range(n_tracks)]
        for key, vector in zip(keys, vectors, strict=True):
            cache.put(key, vector)
        started = time.perf_counter()
        features = np.stack([v for v in (cache.get(k) for k in keys) if v is not None])
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        _, info = fit_probe(features, labels, "single", n_labels, settings, seed=seed)
        fit_s = time.perf_counter() - started
        with threadpool_limits(1, user_api="blas"):
            started = time.perf_counter()
            fit_probe(features, labels, "single", n_labels, settings, seed=seed)
            one_thread_s = time.perf_counter() - started
    return {"probe_tracks": n_tracks, "probe_labels": n_labels, "probe_read_s": round(read_s, 3),
            "probe_fit_s": round(fit_s, 2), "probe_fit_one_blas_thread_s": round(one_thread_s, 2),
            "probe_c_grid": len(settings.c_grid), "probe_cv_folds": info.get("cv_folds"),
            "probe_total_s": round(read_s + fit_s, 2)}


def timed_training(model: Any, seq: Any, steps: int, workers: int) -> dict[str, float]:
    """The trainer's own loop (``prefetch`` + ``train_on_batch``) for ``steps`` steps after two untimed ones.

    Returns samples/s and the share of the time the model waited for its next batch (the
    producer running behind); each step's result is fetched, so asynchronous devices are timed.
    """
    from .data.sequences import prefetch

    for batch in (seq[0], seq[min(1, len(seq) - 1)]):  # trace, compile and warm up
        model.train_on_batch(*batch[:2], sample_weight=batch[2] if len(batch) > 2 else None)
    steps = max(1, min(steps, len(seq)))
    waited = 0.0
    samples = 0
    started = time.perf_counter()
    batches = prefetch(seq, workers)
    try:
        for _ in range(steps):
            asked = time.perf_counter()
            batch = next(batches)
            waited += time.perf_counter() - asked
            logs = model.train_on_batch(*batch[:2], sample_weight=batch[2] if len(batch) > 2 else None,
                                        return_dict=True)
            float(logs["loss"])  # wait for the device
            samples += len(batch[0])
    finally:
        batches.close()
    elapsed = time.perf_counter() - started
    return {"samples_per_s": samples / elapsed, "steps_per_s": steps / elapsed, "input_wait_share": waited / elapsed,
            "seconds": elapsed}


def device_memory() -> dict[str, float | None]:
    """Peak accelerator memory (MB) where the backend reports it (TensorFlow on a GPU), and the process peak."""
    peak_device = None
    device = accelerator()
    if device is not None:
        try:
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                peak_device = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1e6
            elif keras.backend.backend() == "jax":
                import jax

                stats = jax.devices()[0].memory_stats() or {}
                peak_device = stats.get("peak_bytes_in_use", 0) / 1e6 or None
        except Exception as exc:  # a backend without memory statistics: the process peak still stands
            log.warning("no device memory statistics (%s)", exc)
    return {"peak_device_memory_mb": None if peak_device is None else round(peak_device, 1),
            "peak_rss_mb": round(_rss_mb()["peak"], 1)}


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    start_backend()
    import keras

    from .config import preset
    from .data.cache import build_cache
    from .data.manifest import prepare_dataset, read_manifest
    from .data.sequences import TrainCrops
    from .models.cnn import build_model
    from .models.features import LogMel
    from .runs.train import compile_model

    config = preset(args.preset)
    config.batch_size, config.min_tracks = args.batch_size, 1
    for name, value in (("model", args.model), ("width", args.width)):
        if value is not None:
            setattr(config, name, value)
    if args.n_mels is not None:
        config.features.n_mels = args.n_mels
    if args.crop_seconds is not None:
        config.features.crop_seconds = args.crop_seconds
    config.validate()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.manifest:
        layout = Layout.at(args.data)
        _, rows = read_manifest(layout, args.manifest)
        source = str(args.manifest)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="genre-bench-")
        layout, rows = generate_corpus(Path(tmp.name), args.tracks, args.seconds)
        source = f"generated: {args.tracks} tracks x {args.seconds:g} s"
    try:
        mem_before = _rss_mb()
        t0 = time.perf_counter()
        cache, stats = build_cache(layout, rows, SR, progress=False)
        cache_build_s = time.perf_counter() - t0
        data = prepare_dataset(rows, config, source=source)
        config.crops_per_track = max(1, -(-args.batches * config.batch_size // len(data.train)))
        seq = TrainCrops(cache, data.train, config, class_weights=data.class_weights())

        # 1. the input pipeline alone, with and without augmentations, against the naive way; the
        #    three alternate over a few rounds (medians), so a busy machine slows them alike
        n_batches = min(len(seq), args.batches)
        plain = TrainCrops(cache, data.train, config, augment=False)
        cached_rows = [r for r in rows if r["track_id"] in cache]
        naive_crops_per_s(layout, cached_rows, config, 3)  # librosa warm-up (numba compiles) untimed
        # memory: what a pass over every cached track adds (page-ins of the map + pipeline buffers)
        mem_start = _rss_mb()
        seq[0], plain[0]  # resampling plans and the noise table are built once per run
        for track_id in cache.track_ids:  # touch every cached sample once, as an epoch over all tracks does
            int(cache.int16(track_id).sum(dtype=np.int64))
        mem_after = _rss_mb()
        rounds: dict[str, list[float]] = {"augmented": [], "plain": [], "naive": []}
        for round_no in range(args.rounds):
            for name, sequence in (("augmented", seq), ("plain", plain)):
                started = time.perf_counter()
                for i in range(n_batches):
                    sequence[i]
                rounds[name].append(n_batches * config.batch_size / (time.perf_counter() - started))
            rounds["naive"].append(naive_crops_per_s(layout, cached_rows, config,
                                                     max(1, args.naive_crops // args.rounds), seed=round_no))
        rates = {name: float(np.median(values)) for name, values in rounds.items()}
        pipeline_cps, naive_cps = rates["augmented"], rates["naive"]

        # 2. pipeline + log-mel front end (what the model's first layer costs on this device)
        front = keras.Sequential([keras.Input((config.features.crop_samples,)),
                                  LogMel.from_feature_config(config.features)])
        front.jit_compile = jit_setting(accelerator())
        front.predict_on_batch(seq[0][0])
        started = time.perf_counter()
        for i in range(n_batches):
            front.predict_on_batch(seq[i][0])
        front_cps = n_batches * config.batch_size / (time.perf_counter() - started)

        # 3. training steps/s
        device = accelerator()
        mixed = use_mixed_precision(config.mixed_precision, device)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
        try:
            model = build_model(config, len(data.labels))
            compile_model(model, config, device)
            loop = timed_training(model, seq, args.steps, config.workers)
        finally:
            keras.config.set_dtype_policy(previous)
        steps_per_s = loop["steps_per_s"]

        hours = cache.hours
        int16_mb_per_hour = SR * 3600 * 2 / 1e6
        file_mb = max(mem_after["rss_file"] - mem_start["rss_file"], 0.0)  # the mapped cache pages
        anon_mb = max((mem_after["rss"] - mem_after["rss_file"]) - (mem_start["rss"] - mem_start["rss_file"]), 0.0)
        result = {
            "source": source, "tracks": len(cache), "cached_hours": round(hours, 4),
            "cache_mb": round(cache.nbytes / 1e6, 2), "cache_build_s": round(cache_build_s, 2),
            "cache_decoded": stats.decoded, "cache_reused": stats.reused,
            "model": config.model, "width": config.width, "n_mels": config.features.n_mels,
            "n_fft": config.features.n_fft, "hop_length": config.features.hop_length,
            "crop_seconds": config.features.crop_seconds, "batch_size": config.batch_size,
            "backend": keras.backend.backend(), "device": device or f"cpu ({usable_cores()} cores)",
            "mixed_precision": mixed, "platform": platform.platform(),
            "pipeline_crops_per_s": round(pipeline_cps, 1),
            "pipeline_no_augment_crops_per_s": round(rates["plain"], 1),
            "pipeline_plus_logmel_crops_per_s": round(front_cps, 1),
            "naive_librosa_crops_per_s": round(naive_cps, 1),
            "speedup_pipeline_vs_naive": round(pipeline_cps / naive_cps, 1),
            "speedup_no_augment_vs_naive": round(rates["plain"] / naive_cps, 1),
            "rounds": {k: [round(v, 1) for v in vals] for k, vals in rounds.items()},
            "speedup_with_logmel_vs_naive": round(front_cps / naive_cps, 1),
            "train_steps_per_s": round(steps_per_s, 3),
            "train_crops_per_s": round(steps_per_s * config.batch_size, 1),
            # the producer (one thread: cache, crops, augmentation) against what the model consumes; goal >= 2x
            "producer_vs_model": round(pipeline_cps / (steps_per_s * config.batch_size), 2),
            "train_input_wait_share": round(loop["input_wait_share"], 3),
            "int16_mb_per_hour": round(int16_mb_per_hour, 1),
            "cache_resident_mb_per_hour": round(file_mb / hours, 1) if hours else None,
            "cache_resident_vs_int16": round(file_mb / (cache.nbytes / 1e6), 3) if cache.nbytes else None,
            "pipeline_working_memory_mb": round(anon_mb, 1),
            "rss_before_cache_mb": round(mem_before["rss"], 1),
            "memory_mapped": True,
            "peak_rss_mb": round(_rss_mb()["peak"], 1),
        }
        cache.close()
        # 4. pretrained embeddings and the linear probe
        if args.embed_tracks > 0:
            result.update(embedding_bench(layout, cached_rows, args.embed_tracks, args.embed_batch,
                                          args.rounds))
        if args.probe_tracks > 0:
            result.update(probe_bench(args.probe_tracks))
        result["peak_rss_mb"] = round(_rss_mb()["peak"], 1)
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


def gpu_bench(args: argparse.Namespace) -> dict[str, Any]:
    """``make bench-gpu``: the CNN and the fine-tuned musicnn as they would train on this device.

    Per model: samples/s through the trainer's loop (producer threads, mixed precision and XLA
    as ``train`` chooses them for this device), the share of the time the accelerator waited
    for input, and peak memory (the GPU's where the backend reports it, else the process's).
    On a CPU the same code runs and reports CPU numbers (the CNN at a smaller width).
    """
    start_backend()
    import keras

    from .config import FINETUNE, preset
    from .data.cache import build_cache
    from .data.manifest import prepare_dataset
    from .data.sequences import TrainCrops
    from .runs.train import build_model, compile_model

    device = accelerator()
    mixed = use_mixed_precision("auto", device)
    workers = args.workers or max(2, usable_cores())
    configs = []
    cnn = preset("gpu")
    cnn.width = args.width or (cnn.width if device else 16)
    configs.append(("cnn", cnn))
    try:
        from .models.pretrained.finetune import apply_input_spec

        tune = TrainConfig(model=FINETUNE)
        apply_input_spec(tune, {})
        configs.append(("musicnn fine-tune", tune))
    except ImportError as exc:
        log.warning("no fine-tune model to time (%s)", exc)
    result: dict[str, Any] = {"backend": keras.backend.backend(), "device": device or f"cpu ({usable_cores()} cores)",
                              "mixed_precision": mixed, "jit_compile": jit_setting(device), "workers": workers,
                              "batch_size": args.batch_size, "platform": platform.platform(), "models": {}}
    with tempfile.TemporaryDirectory(prefix="genre-bench-gpu-") as tmp:
        layout, rows = generate_corpus(Path(tmp), args.tracks, args.seconds)
        cache, _ = build_cache(layout, rows, SR, progress=False)
        try:
            for name, config in configs:
                config.batch_size, config.min_tracks, config.workers = args.batch_size, 1, workers
                config.mixed_precision = "auto"
                config.validate()
                data = prepare_dataset(rows, config, source="generated")
                config.crops_per_track = max(1, -(-(args.steps + 2) * config.batch_size // len(data.train)))
                seq = TrainCrops(cache, data.train, config, class_weights=data.class_weights())
                previous = keras.config.dtype_policy()
                keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
                _reset_device_memory(device)
                try:
                    model = build_model(config, len(data.labels))
                    compile_model(model, config, device)
                    loop = timed_training(model, seq, args.steps, workers)
                finally:
                    keras.config.set_dtype_policy(previous)
                started = time.perf_counter()
                for i in range(min(len(seq), args.steps)):
                    seq[i]
                producer = min(len(seq), args.steps) * config.batch_size / (time.perf_counter() - started)
                result["models"][name] = {
                    "model": config.model, "width": config.width, "parameters": int(model.count_params()),
                    "samples_per_s": round(loop["samples_per_s"], 1),
                    "input_wait_share": round(loop["input_wait_share"], 3),
                    "producer_one_thread_samples_per_s": round(producer, 1),
                    **device_memory()}
                del model
        finally:
            cache.close()
    return result


def _reset_device_memory(device: str | None) -> None:
    """Peak memory per model: TensorFlow's GPU counter starts again (other backends keep a process peak)."""
    if device is None:
        return
    try:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
    except Exception as exc:
        log.debug("could not reset the device memory peak: %s", exc)


def format_gpu_table(r: dict[str, Any]) -> str:
    head = (f"device: {r['device']} ({r['backend']}; mixed precision {'on' if r['mixed_precision'] else 'off'}, "
            f"XLA {'on' if r['jit_compile'] else 'off'}, {r['workers']} producer threads, batch {r['batch_size']})")
    lines = [head, f"{'model':<20} {'samples/s':>10} {'input wait':>11} {'producer/s':>11} {'peak device MB':>15} "
                   f"{'peak RSS MB':>12}"]
    for name, m in r["models"].items():
        peak = "n/a" if m["peak_device_memory_mb"] is None else f"{m['peak_device_memory_mb']:.0f}"
        lines.append(f"{name:<20} {m['samples_per_s']:>10.1f} {100 * m['input_wait_share']:>10.1f}% "
                     f"{m['producer_one_thread_samples_per_s']:>11.1f} {peak:>15} {m['peak_rss_mb']:>12.0f}")
    return "\n".join(lines)


def format_table(r: dict[str, Any]) -> str:
    rows = [
        ("audio", f"{r['source']}; {r['tracks']} tracks, {r['cached_hours'] * 60:.1f} min, cache {r['cache_mb']} MB"),
        ("device", f"{r['device']} ({r['backend']}{', mixed precision' if r['mixed_precision'] else ''})"),
        ("features", f"{r['n_mels']} mels, n_fft {r['n_fft']}, hop {r['hop_length']}, {r['crop_seconds']:g} s crops"),
        ("input pipeline (cache + crops + augment)", f"{r['pipeline_crops_per_s']:.0f} crops/s"),
        ("  ... without augmentation", f"{r['pipeline_no_augment_crops_per_s']:.0f} crops/s"),
        ("  ... + log-mel front end", f"{r['pipeline_plus_logmel_crops_per_s']:.0f} crops/s"),
        ("naive: load file + librosa mel per crop", f"{r['naive_librosa_crops_per_s']:.1f} crops/s"),
        ("speed-up vs naive (goal >= 20x)", f"{r['speedup_pipeline_vs_naive']:.0f}x augmented, "
                                            f"{r['speedup_no_augment_vs_naive']:.0f}x like for like (no "
                                            f"augmentation), {r['speedup_with_logmel_vs_naive']:.0f}x with "
                                            "log-mel on this CPU"),
        (f"training {r['model']} (batch {r['batch_size']})",
         f"{r['train_steps_per_s']:.2f} steps/s = {r['train_crops_per_s']:.0f} crops/s"),
        ("producer vs model (goal >= 2x)", f"{r['producer_vs_model']:.1f}x; the model waited for input "
                                           f"{100 * r['train_input_wait_share']:.1f} % of the time"),
        ("memory per hour of cached audio (goal <= 1.2x)",
         f"{r['cache_resident_mb_per_hour']} MB resident vs {r['int16_mb_per_hour']} MB int16 "
         f"({r['cache_resident_vs_int16']}x; memory-mapped, reclaimable page cache)"),
        ("pipeline working memory (independent of size)", f"{r['pipeline_working_memory_mb']} MB"),
    ]
    if "embed_tracks" in r:
        for name, what in (("back_to_back", "back-to-back patches (goal >= 25x)"),
                           ("half_overlap", "half-overlapping (the probe's)")):
            rows.append((f"embedding, {what}",
                         f"{r[f'embed_{name}_x_real_time']:.1f}x real time: {r[f'embed_{name}_audio_s']:.0f} s of "
                         f"audio, {r[f'embed_{name}_patches']} patches, {r[f'embed_{name}_patches_per_s']:.1f} "
                         f"patches/s ({r['embed_model']} {r['embed_layer']}, batches of {r['embed_batch']}; "
                         "decoding and log-mel included)"))
        if "embed_model_only_eager_x_real_time" in r:
            chosen = "xla" if r["embed_model_only_default_jit"] else "eager"
            rows.append(("embedding, model only (TF1 original ~16x)",
                         f"{r['embed_model_only_eager_x_real_time']:.1f}x real time without XLA, "
                         f"{r['embed_model_only_xla_x_real_time']:.1f}x with XLA (first call "
                         f"{r['embed_model_only_eager_first_call_s']:.1f} s / {r['embed_model_only_xla_first_call_s']:.1f} s); "
                         f"embed runs {'with' if chosen == 'xla' else 'without'} XLA on {r['backend']} "
                         f"(log-mel included, {r['embed_batch']} back-to-back patches per call)"))
    if "probe_tracks" in r:
        rows.append((f"linear probe on {r['probe_tracks']:,} cached tracks",
                     f"{r['probe_total_s']:.1f} s ({r['probe_read_s']:.2f} s reading the cache, "
                     f"{r['probe_fit_s']:.1f} s fitting: {r['probe_c_grid']} C values x {r['probe_cv_folds']} "
                     f"folds + refit; {r['probe_fit_one_blas_thread_s']:.1f} s with BLAS on one thread)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bench", description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--manifest", type=Path, help="training table to benchmark on (default: generate audio)")
    parser.add_argument("--out", type=Path, help="JSON result (default: <data>/bench/training.json)")
    parser.add_argument("--tracks", type=int, default=120, help="generated tracks (default: 120)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="generated track length (default: 30; 120 x 30 s = one hour of audio)")
    parser.add_argument("--preset", default="cpu", choices=PRESETS,
                        help="training settings to time (default: cpu, the demo's)")
    parser.add_argument("--model", choices=MODEL_NAMES, help="override the preset's model")
    parser.add_argument("--width", type=int, help="override the preset's model width")
    parser.add_argument("--n-mels", type=int, help="override the preset's mel bands")
    parser.add_argument("--crop-seconds", type=float, help="override the crop length (default: 4.0)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--batches", type=int, default=30, help="pipeline batches to time (default: 30)")
    parser.add_argument("--steps", type=int, default=10, help="training steps to time (default: 10)")
    parser.add_argument("--naive-crops", type=int, default=90, help="crops for the naive way (default: 90)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (default: 3)")
    parser.add_argument("--embed-tracks", type=int, default=24,
                        help="tracks embedded with musicnn-MSD, twice (default: 24; 0 skips it)")
    parser.add_argument("--embed-batch", type=number(int, 1), metavar="N",
                        help="patches per model call for the embedding timing (default: embed's, per backend)")
    parser.add_argument("--probe-tracks", type=int, default=1000,
                        help="cached tracks the linear probe is trained on (default: 1000; 0 skips it)")
    parser.add_argument("--gpu-suite", action="store_true",
                        help="time the CNN and the fine-tuned musicnn as train runs them on this device "
                             "(samples/s, input wait, peak memory; default JSON <data>/bench/gpu.json)")
    parser.add_argument("--workers", type=int, help="producer threads for --gpu-suite (default: the cores)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    quiet_tensorflow(args.verbose)
    if args.gpu_suite:

        result = gpu_bench(args)
        publish(result, format_gpu_table(result), data=args.data, name="gpu", out=args.out)
        return 0
    if args.tracks < 20 or args.seconds < (args.crop_seconds or 4.0):
        raise UserError("--tracks must be at least 20 (every split needs each kind of signal) and "
                        "--seconds at least the crop length")
    result = run_bench(args)
    publish(result, format_table(result), data=args.data, name="training", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
