"""Runs the download stage in its own process for the crash test (``python -m tests.audio.crash_runner``).

Arguments: the data folder and a JSON file mapping track_id -> [video_id, url, seconds].
The search step is the test's static searcher; everything else is the real stage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from collectors.audio.pipeline import DownloadStage
from manifests import Layout
from tests.audio.helpers import StaticSearcher, fast_settings, song


def main(argv: list[str]) -> int:
    data, plan = Path(argv[0]), json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    searcher = StaticSearcher({track_id: [song(vid, url, artist="Band", title=f"Song {track_id}", seconds=secs)]
                               for track_id, (vid, url, secs) in plan.items()})
    summary = DownloadStage(Layout.at(data), fast_settings(workers=2), searcher=searcher).run()
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
