"""Half-overlapping patches for embeddings: the stream's hop option, the whole-signal windows, evenly spaced bounds."""

from __future__ import annotations

import numpy as np
import pytest

from training.models.pretrained.patches import PatchStream, hop_frames_for, patch_starts, patch_windows
from training.models.pretrained.registry import MUSICNN_INPUT

SG = MUSICNN_INPUT


def test_half_overlap_is_93_frames_and_zero_overlap_the_original_hop() -> None:
    assert hop_frames_for(SG, 0.5) == 93 and hop_frames_for(SG, 0.0) == SG.patch_frames
    assert PatchStream(SG, hop_frames=SG.patch_frames).hop_samples == SG.patch_hop_samples == PatchStream(SG).hop_samples


@pytest.mark.parametrize("n_samples", [100, 47_615, 47_616, 71_424, 95_487, 300_001])
@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.75])
def test_whole_signal_windows_are_the_streams_windows(n_samples: int, overlap: float) -> None:
    rng = np.random.default_rng(n_samples)
    signal = rng.standard_normal(n_samples).astype(np.float32)
    hop = hop_frames_for(SG, overlap)
    stream = PatchStream(SG, hop_frames=hop)
    streamed = np.stack(list(stream.windows(np.array_split(signal, 4))))
    windows, padded = patch_windows(signal, SG, hop)
    np.testing.assert_array_equal(windows, streamed)
    assert padded == stream.padded == (n_samples + SG.n_fft < SG.patch_samples)
    centred = np.pad(signal, SG.n_fft // 2)
    if not padded:  # patch k starts k hops into the centred signal: the frames of the whole spectrogram
        for k, window in enumerate(windows):
            start = k * hop * SG.hop_length
            np.testing.assert_array_equal(window, centred[start:start + SG.patch_samples])
    # a bound keeps evenly spaced patches, first and last included
    for bound in (1, 2, 3):
        some, _ = patch_windows(signal, SG, hop, max_patches=bound)
        starts = patch_starts(n_samples, SG, hop, bound)
        assert len(some) == min(bound, len(windows)) == len(starts)
        index = starts // (hop * SG.hop_length)
        np.testing.assert_array_equal(some, windows[index])
        if bound >= 2 and len(windows) >= 2:
            assert index[0] == 0 and index[-1] == len(windows) - 1


def test_a_25_second_track_has_15_half_overlapping_patches() -> None:
    starts = patch_starts(25 * 16000, SG, hop_frames_for(SG, 0.5))
    assert len(starts) == 15 and len(patch_starts(25 * 16000, SG)) == 8
    assert list(patch_starts(25 * 16000, SG, hop_frames_for(SG, 0.5), 10)) == \
        [int(i) * 93 * 256 for i in np.unique(np.round(np.linspace(0, 14, 10)))]
