"""The download stage on a file system that refuses its audio: one line, not one failed row per track.

ffmpeg writes the WAVs from its own process, so its refusal comes back as text; it is mapped to
the same one-line fault as Python's own writes. Real tmpfs mounts in a private namespace (root, as in CI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from manifests import Layout
from manifests.audio import ffmpeg_exe
from manifests.errors import fault_in_message
from tests.audio.helpers import write_tracks
from tests.fixtures.faults import mounts_permitted, real_fs

needs_mounts = pytest.mark.skipif(not mounts_permitted(), reason="needs permission to mount a tmpfs (root)")

RUNNER = """
import sys
from collectors.audio.pipeline import DownloadStage
from manifests import Layout
from manifests.audio import ffmpeg_exe
from manifests.errors import run_cli
from tests.audio.helpers import StaticSearcher, fast_settings

def main(argv):
    DownloadStage(Layout.at(argv[0]), fast_settings(), searcher=StaticSearcher({})).run()
    return 0

sys.exit(run_cli(main, sys.argv[1:]))
"""

CONVERT = """
import sys
from collectors.audio.convert import ConvertOptions, ConvertTask, convert_task
outcome = convert_task(ConvertTask("t", sys.argv[1], sys.argv[2], ConvertOptions(), min_seconds=0.1))
print(f"fatal={outcome.fatal} error={outcome.error}")
"""


def test_what_ffmpeg_prints_maps_to_the_same_fault() -> None:
    fault = fault_in_message("out.wav.part: No space left on device", "audio/x.wav.part")
    assert fault is not None and str(fault).startswith("audio/x.wav.part: no space left on the device")
    assert fault_in_message("Invalid data found when processing input") is None


@needs_mounts
def test_a_read_only_audio_folder_stops_the_stage_in_one_line(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "src")
    write_tracks(layout, [{"track_id": "trk001", "title": "Song", "artists": ["Band"], "seconds": 3.0}])
    mount = tmp_path / "mnt"
    mount.mkdir()
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    proc = real_fs(f"""
        mount -t tmpfs -o size=4m tmpfs {mount}
        cp -a {layout.root} {mount}/d && mkdir -p {mount}/d/audio
        mount -o remount,ro {mount}
        set +e
        {sys.executable} {tmp_path}/runner.py {mount}/d; echo "rc=$?"
    """)
    assert "rc=2" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {mount}/d/audio: the file system is read-only; use a writable data folder (--data) or "
        "remount it"), proc.stderr
    assert "Traceback" not in proc.stderr


@needs_mounts
def test_a_full_disk_during_a_conversion_is_fatal_not_a_bad_track(tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=5",
                    str(src)], check=True)
    mount = tmp_path / "mnt"
    mount.mkdir()
    (tmp_path / "convert.py").write_text(CONVERT, encoding="utf-8")
    proc = real_fs(f"""
        mount -t tmpfs -o size=64k tmpfs {mount}
        dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null || true
        {sys.executable} {tmp_path}/convert.py {src} {mount}/t.wav.part
    """)
    assert "fatal=True" in proc.stdout, proc.stdout + proc.stderr
    assert "no space left on the device" in proc.stdout
