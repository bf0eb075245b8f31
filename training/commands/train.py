"""``python -m training train``: train or continue a genre classifier run.

Options left out keep their defaults (see ``training/README.md``); rerunning
the same command continues an interrupted run from its last finished epoch.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from manifests.cliutil import add_common_arguments, add_deprecated_alias
from manifests.errors import UserError

from ..config import (
    ALL_MODELS,
    BALANCE,
    FINETUNE,
    LR_SCALINGS,
    LR_SCHEDULES,
    MIXED_PRECISION,
    POOLINGS,
    PRESETS,
    PROBE,
    TASKS,
    ConfigError,
    TrainConfig,
    preset,
)
from ..models.pretrained.registry import pretrained_names
from .options import add_manifest_option

log = logging.getLogger(__name__)

#: option dest -> TrainConfig field ("features." / "augment." for nested ones)
FIELDS = {
    "model": "model", "task": "task", "width": "width", "dropout": "dropout", "epochs": "epochs",
    "batch_size": "batch_size", "crops_per_track": "crops_per_track",
    "val_crops_per_track": "val_crops_per_track", "learning_rate": "learning_rate",
    "weight_decay": "weight_decay", "lr_schedule": "lr_schedule", "patience": "early_stopping_patience",
    "balance": "balance", "label_threshold": "label_threshold", "threshold": "threshold",
    "min_tracks": "min_tracks", "seed": "seed", "mixed_precision": "mixed_precision", "workers": "workers",
    "distribute": "distribute", "lr_scaling": "lr_scaling", "warmup_epochs": "warmup_epochs",
    "crop_seconds": "features.crop_seconds", "n_mels": "features.n_mels", "n_fft": "features.n_fft",
    "hop_length": "features.hop_length", "pitch_semitones": "augment.pitch_semitones",
    "time_stretch": "augment.time_stretch", "mixup": "augment.mixup_alpha",
    "pretrained": "probe.pretrained", "layer": "probe.layer", "pooling": "probe.pooling",
    "overlap": "probe.overlap", "max_patches": "probe.max_patches",
    "unfreeze_epochs": "finetune.unfreeze_epochs", "fine_tune_lr": "finetune.fine_tune_lr",
}
#: the feature options a fine-tuned musicnn takes from its registry entry instead
INPUT_OPTIONS = ("sample_rate", "n_fft", "hop_length", "n_mels", "crop_seconds")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "train", help="train (or continue) a CNN genre classifier, or a linear probe, on the training manifest",
        description="Train a CNN on the training manifest (manifests/training.csv). The run folder "
                    "<data>/runs/<name>/ gets config.json, labels.json, model.keras, history.csv, "
                    "checkpoints/ and tensorboard/. Rerunning the same command continues an "
                    "interrupted run. --model probe fits a logistic regression on cached pretrained "
                    "embeddings instead (probe.npz, probe.json). Prints the run folder at the end.")
    add_common_arguments(p)
    add_manifest_option(p)
    p.add_argument("--run", metavar="NAME", help="run folder name under <data>/runs (default: MODEL-TASK)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--preset", choices=PRESETS, help="start from a named setting: cpu (small cnn_bn on "
                       "64 mels, minutes on a laptop CPU) or gpu (short-chunk ResNet at the published size); "
                       "options below override it")
    start.add_argument("--config", type=Path, metavar="JSON",
                       help="start from this config.json (e.g. another run's); options below override it")
    p.add_argument("--model", choices=ALL_MODELS, help="architecture (default: cnn_bn); probe: a linear "
                   "classifier on a pretrained model's embeddings; musicnn: the pretrained musicnn "
                   "fine-tuned (options below)")
    p.add_argument("--task", choices=TASKS, help="single: softmax on top_genre; multi: sigmoid on genres "
                                                 "(default: single)")
    p.add_argument("--width", type=int, metavar="N", help="base number of filters (model size)")
    p.add_argument("--dropout", type=float, metavar="P", help="dropout rate (default: 0.3)")
    p.add_argument("--epochs", type=int, metavar="N", help="maximum epochs (default: 30)")
    p.add_argument("--batch-size", type=int, metavar="N", help="crops per batch (default: 32)")
    p.add_argument("--crops-per-track", type=int, metavar="N",
                   help="random training crops per track and epoch (default: 4)")
    p.add_argument("--val-crops-per-track", type=int, metavar="N",
                   help="evenly spaced validation crops per track (default: 4)")
    p.add_argument("--crop-seconds", type=float, metavar="S", help="crop length in seconds (default: 4.0)")
    p.add_argument("--n-mels", type=int, metavar="N", help="mel bands (default: 128)")
    p.add_argument("--n-fft", type=int, metavar="N", help="STFT size in samples (default: 512)")
    p.add_argument("--hop-length", type=int, metavar="N", help="STFT hop in samples (default: 256)")
    p.add_argument("--learning-rate", type=float, metavar="LR", help="initial learning rate (default: 1e-3)")
    p.add_argument("--weight-decay", type=float, metavar="WD", help="AdamW weight decay (default: 1e-2)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="plateau (default), cosine or constant")
    p.add_argument("--patience", type=int, metavar="N", help="early-stopping patience in epochs (default: 8)")
    p.add_argument("--balance", choices=BALANCE,
                   help="class imbalance: loss weights (default), balanced sampling, or none")
    p.add_argument("--min-tracks", type=int, metavar="N",
                   help="a genre with fewer tracks is an error (default: 5)")
    p.add_argument("--drop-rare", action="store_true", help="leave genres below --min-tracks out instead")
    p.add_argument("--label-threshold", type=float, metavar="W",
                   help="multi-label: genre weight that makes a positive target (default: 0.5)")
    p.add_argument("--threshold", type=float, metavar="P",
                   help="multi-label: probability that counts as predicted (default: 0.5)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: 1234)")
    p.add_argument("--no-augment", action="store_true", help="turn every augmentation off")
    p.add_argument("--pitch-semitones", type=int, metavar="N",
                   help="pitch shift range in whole semitones, 0 = off (default: 2)")
    p.add_argument("--time-stretch", type=float, metavar="F", help="time stretch range, 0 = off (default: 0.04)")
    p.add_argument("--no-noise", action="store_true", help="do not add noise to training crops")
    p.add_argument("--mixup", type=float, metavar="ALPHA", help="mixup Beta(alpha, alpha); 0 = off (default)")
    p.add_argument("--mixed-precision", choices=MIXED_PRECISION,
                   help="float16 compute: auto = on GPU only (default)")
    p.add_argument("--workers", type=int, metavar="N", help="threads preparing batches (default: 1)")
    dist = p.add_argument_group("data-parallel training (--distribute; training/README.md)")
    dist.add_argument("--distribute", action="store_true", default=None,
                      help="train on every device: tf.distribute.MirroredStrategy (MultiWorkerMirroredStrategy "
                           "with TF_CONFIG), or keras.distribution.DataParallel with KERAS_BACKEND=jax (across "
                           "hosts with KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES, _PROCESS_ID); "
                           "--batch-size is then per replica")
    dist.add_argument("--lr-scaling", choices=LR_SCALINGS,
                      help="with --distribute: learning rate x replicas (linear, default) or as given (none)")
    dist.add_argument("--warmup-epochs", type=int, metavar="N",
                      help="with --distribute and linear scaling: epochs of linear warm-up to the scaled rate "
                           "(default: 2)")
    probe = p.add_argument_group("linear probe (--model probe)")
    probe.add_argument("--pretrained", choices=pretrained_names(),
                       help="pretrained model whose embeddings the probe reads (default: musicnn-MSD)")
    probe.add_argument("--layer", metavar="NAME", help="its embedding layer (default: penultimate)")
    probe.add_argument("--pooling", choices=POOLINGS,
                       help="from patch embeddings to one per track (default: mean)")
    probe.add_argument("--overlap", type=float, metavar="F",
                       help="share of a patch the next one overlaps (default: 0.5)")
    probe.add_argument("--max-patches", type=int, metavar="N",
                       help="at most N evenly spaced patches per track (default: all)")
    tune = p.add_argument_group("fine-tuning a pretrained musicnn (--model musicnn; --pretrained picks which)")
    tune.add_argument("--unfreeze-epochs", type=int, metavar="N",
                      help="the last N of --epochs train every layer; the ones before only the back end and "
                           "the new output layer (default: 0, the front end stays frozen)")
    tune.add_argument("--fine-tune-lr", type=float, metavar="LR",
                      help="learning rate once every layer trains (default: 1e-5)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run named by --run with its saved settings (only --epochs may change)")
    p.add_argument("--fresh", action="store_true", help="delete the run folder and start over")
    add_deprecated_alias(p, "--overwrite", "--fresh")
    p.set_defaults(func=handle)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults (or --preset / --config), then every option the user gave."""
    try:
        if args.config:
            config = TrainConfig.load(args.config)
        elif args.preset:
            config = preset(args.preset)
        else:
            config = TrainConfig()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    for dest, name in FIELDS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        target = config
        *parents, leaf = name.split(".")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, leaf, value)
    if args.drop_rare:
        config.drop_rare = True
    if args.no_augment:
        config.augment.enabled = False
    if args.no_noise:
        config.augment.noise_prob = 0.0
    if config.model == FINETUNE:  # the model's own input, whatever a preset or config said
        from ..models.pretrained.finetune import apply_input_spec

        if args.pretrained is not None:
            config.finetune.pretrained = args.pretrained
        given = {f"--{dest.replace('_', '-')}": getattr(args, dest) for dest in INPUT_OPTIONS
                 if getattr(args, dest, None) is not None}
        apply_input_spec(config, given)
    return config


def handle(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    if args.resume and args.fresh:
        raise UserError("--resume and --fresh contradict each other; pick one")
    config = config_from_args(args)
    probe_options = [f"--{dest.replace('_', '-')}" for dest, name in FIELDS.items()
                     if name.startswith("probe.") and getattr(args, dest, None) is not None
                     and not (dest == "pretrained" and config.model == FINETUNE)]
    if probe_options and config.model != PROBE:
        raise UserError(f"{probe_options[0]} is a setting of the linear probe: add --model probe")
    tune_options = [f"--{dest.replace('_', '-')}" for dest, name in FIELDS.items()
                    if name.startswith("finetune.") and getattr(args, dest, None) is not None]
    if tune_options and config.model != FINETUNE:
        raise UserError(f"{tune_options[0]} is a setting of fine-tuning: add --model {FINETUNE}")
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    layout = Layout.at(args.data)
    if config.model == PROBE:
        from ..runs.probe import train_probe

        done = train_probe(layout, config, run_name=args.run, manifest=args.manifest, resume=args.resume,
                           fresh=args.fresh, progress=not args.quiet)
        print(done.run_dir)
        return 0

    from ..runs.train import train

    result = train(layout, config, run_name=args.run, manifest=args.manifest, resume=args.resume,
                   fresh=args.fresh, epochs_override=args.epochs if args.resume else None,
                   progress=not args.quiet)
    print(result.run_dir)
    return 0
