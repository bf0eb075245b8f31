"""The pieces under `training tag`: the streamed decode, the patch windows, the log-mel settings, layer outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from manifests.audio import decode_audio, stream_audio
from manifests.errors import UserError
from training.models.pretrained.patches import PatchStream, batched
from training.models.pretrained.registry import MUSICNN_INPUT

SG = MUSICNN_INPUT


def test_stream_gives_exactly_the_samples_of_decode_audio(shared_dir: Path) -> None:
    path = shared_dir / "real-audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    blocks = list(stream_audio(path, 16000, block_samples=12_345))
    assert len(blocks) > 1 and all(b.dtype == np.float32 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), decode_audio(path, 16000))


def test_stream_refuses_a_file_ffmpeg_cannot_read(tmp_path: Path) -> None:
    from manifests.audio import FFmpegError

    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS not really" * 50)
    with pytest.raises(FFmpegError, match="bad.ogg: ffmpeg could not decode it"):
        list(stream_audio(bad, 16000))
    with pytest.raises(FFmpegError, match="no such audio file"):
        list(stream_audio(tmp_path / "none.wav", 16000))


def _original_patch_count(n_samples: int) -> int:
    """musicnn's batch_data: 1 + N // hop centred frames, patches of 187 at hop 187, the rest dropped."""
    frames = 1 + n_samples // SG.hop_length
    return len(range(0, frames - SG.patch_frames + 1, SG.patch_frames))


@pytest.mark.parametrize("n_samples", [100, 47_615, 47_616, 47_872, 95_487, 95_488, 95_743, 300_001])
def test_patch_windows_are_the_original_patches_in_any_blocks(n_samples: int) -> None:
    rng = np.random.default_rng(n_samples)
    signal = rng.standard_normal(n_samples).astype(np.float32)
    whole = PatchStream(SG)
    windows = list(whole.windows([signal]))
    cuts = np.sort(rng.integers(0, n_samples, 6))
    pieces = PatchStream(SG)
    assert all(np.array_equal(a, b) for a, b in zip(windows, pieces.windows(np.split(signal, cuts)), strict=True))
    expected = _original_patch_count(n_samples)
    assert whole.n_samples == n_samples == pieces.n_samples
    if expected == 0:  # shorter than a patch: one window, padded with silence, flagged
        assert whole.padded and len(windows) == 1
        assert np.array_equal(windows[0][256:256 + n_samples], signal) and not windows[0][256 + n_samples:].any()
        return
    assert not whole.padded and len(windows) == whole.n_patches == expected
    centred = np.pad(signal, 256)
    for k, window in enumerate(windows):
        start = k * SG.patch_hop_samples
        assert window.shape == (SG.patch_samples,)
        np.testing.assert_array_equal(window, centred[start:start + SG.patch_samples])
    assert [b.shape[0] for b in batched(iter(windows), 2)] == [2] * (expected // 2) + [1] * (expected % 2)


def test_log_mel_with_musicnn_settings_is_librosa_then_log10_1p() -> None:
    pytest.importorskip("keras")
    import librosa

    from training.models.features import LogMel

    rng = np.random.default_rng(5)
    t = np.arange(3 * SG.patch_hop_samples) / SG.sample_rate
    signal = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=signal, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    expected = np.log10(10000 * mel + 1)
    layer = LogMel(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, standardize=False, center=False,
                   compression="log10_1p", gain=10000.0)
    windows = np.stack(list(PatchStream(SG).windows([signal])))
    ours = np.asarray(layer(windows))
    assert ours.shape == (3, SG.patch_frames, 96)
    for k in range(3):
        frames = expected[k * SG.patch_frames:(k + 1) * SG.patch_frames]
        np.testing.assert_allclose(ours[k], frames, atol=2e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="compression"):
        LogMel(compression="ln")


def test_embeddings_by_layer_name() -> None:
    pytest.importorskip("keras")
    from training.models.pretrained.tagger import load_pretrained

    model = load_pretrained("musicnn-MSD")
    windows = np.random.default_rng(1).standard_normal((2, SG.patch_samples)).astype(np.float32) * 0.1
    out = model.predict(windows, 16000, layers=("taggram", "penultimate", "max_pool", "timbral"))
    sizes = dict(model.spec.embedding_layers)
    assert out["taggram"].shape == (2, 50) and ((out["taggram"] >= 0) & (out["taggram"] <= 1)).all()
    assert out["penultimate"].shape == (2, sizes["penultimate"]) == (2, model.spec.embedding_size)
    assert out["max_pool"].shape == (2, sizes["max_pool"])
    assert out["timbral"].shape == (2, SG.patch_frames, sizes["timbral"])
    with pytest.raises(UserError, match="has no layer 'nope'; embedding layers: taggram, timbral"):
        model.predict(windows, 16000, layers=("nope",))
