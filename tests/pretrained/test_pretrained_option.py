"""`training embed` and `training tag` name the pretrained model `--pretrained`, as train, audit-audio and
claims-audio do; the old `--model` still works, with one deprecation line. Argument level only: nothing is
embedded or tagged, so no model is loaded."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from manifests.cliutil import build_parser
from manifests.errors import UserError
from training.cli import COMMAND_MODULES, main

DEPRECATION = "warning: --model is deprecated and will be removed; use --pretrained"


def _parser() -> argparse.ArgumentParser:
    return build_parser("python -m training", "test", COMMAND_MODULES)


def _help(command: str) -> str:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return str(sub.choices[command].format_help())


@pytest.mark.parametrize("command", ["embed", "tag"])
def test_help_names_pretrained_and_hides_the_old_name(command: str) -> None:
    text = _help(command)
    assert "[--pretrained" in text and re.search(r"^  --pretrained\b", text, re.M)
    assert "[--model" not in text and not re.search(r"^  --model\b", text, re.M)  # neither usage nor options


def test_embed_takes_pretrained_with_the_same_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert _parser().parse_args(["embed"]).pretrained == "musicnn-MSD"
    assert _parser().parse_args(["embed", "--pretrained", "musicnn-MTT"]).pretrained == "musicnn-MTT"
    assert capsys.readouterr().err == ""


def test_embed_model_is_a_deprecated_alias(capsys: pytest.CaptureFixture[str]) -> None:
    old = vars(_parser().parse_args(["embed", "--model", "musicnn-MTT", "--layer", "timbral"]))
    assert capsys.readouterr().err.splitlines() == [DEPRECATION]
    new = vars(_parser().parse_args(["embed", "--pretrained", "musicnn-MTT", "--layer", "timbral"]))
    assert old == new and "model" not in old


def test_tag_pretrained_is_repeatable_and_unset_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert _parser().parse_args(["tag", "a.wav"]).pretrained is None  # run_tag's default: both taggers
    args = _parser().parse_args(["tag", "a.wav", "--pretrained", "musicnn-MTT", "--pretrained", "musicnn-MSD"])
    assert args.pretrained == ["musicnn-MTT", "musicnn-MSD"]
    assert capsys.readouterr().err == ""


def test_tag_model_is_a_deprecated_alias_that_appends_to_the_same_list(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["tag", "a.wav", "--model", "musicnn-MTT", "--pretrained", "musicnn-MSD"])
    assert args.pretrained == ["musicnn-MTT", "musicnn-MSD"] and not hasattr(args, "model")
    assert capsys.readouterr().err.splitlines() == [DEPRECATION]
    old = vars(_parser().parse_args(["tag", "a.wav", "--model", "musicnn-MTT"]))
    assert old == vars(_parser().parse_args(["tag", "a.wav", "--pretrained", "musicnn-MTT"]))


@pytest.mark.parametrize("command", [["embed"], ["tag", "a.wav"]])
@pytest.mark.parametrize("flag", ["--pretrained", "--model"])
def test_an_unknown_model_is_refused_under_either_name(command: list[str], flag: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args([*command, flag, "nope"])
    assert stop.value.code == 2
    assert f"argument {flag}: invalid choice: 'nope'" in capsys.readouterr().err  # argparse names what was typed


def test_tag_hands_the_chosen_models_to_run_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from training.commands import pretrained

    calls: list[list[str]] = []

    def record(files: list[str], models: list[str], **_: object) -> int:
        calls.append(models)
        return 0

    monkeypatch.setattr(pretrained, "run_tag", record)
    song = str(tmp_path / "song.wav")
    assert main(["tag", song, "--pretrained", "musicnn-MTT"]) == 0
    assert main(["tag", song, "--model", "musicnn-MSD"]) == 0
    assert main(["tag", song]) == 0
    assert calls == [["musicnn-MTT"], ["musicnn-MSD"], list(pretrained.DEFAULT_TAGGERS)]
    assert capsys.readouterr().err.splitlines() == [DEPRECATION]


def test_embed_hands_the_chosen_model_to_the_embedding_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from training.data import manifest
    from training.runs import embed

    def stop(layout: object, rows: object, settings: object, **_: object) -> None:
        raise UserError(f"stopped before embedding: {settings.key}")  # type: ignore[attr-defined]

    monkeypatch.setattr(manifest, "read_manifest", lambda layout, path=None: (Path("training.csv"), []))
    monkeypatch.setattr(embed, "embed_tracks", stop)
    data = str(tmp_path / "data")
    assert main(["embed", "--data", data, "--pretrained", "musicnn-MTT", "--max-patches", "2"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        "error: stopped before embedding: musicnn-MTT-penultimate-mean-o50-n2"
    assert main(["embed", "--data", data, "--model", "musicnn-MTT", "--max-patches", "2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        DEPRECATION, "error: stopped before embedding: musicnn-MTT-penultimate-mean-o50-n2"]
