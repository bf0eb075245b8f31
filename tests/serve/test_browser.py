"""The page in a real (headless) Chromium: upload a file, record from the (fake) microphone, see the answer.

Set ``SCREENSHOTS_DIR`` to keep a screenshot of the page with a result (``serve.png``);
``docs/screenshots/serve.png`` in the repository was made that way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.waiting import wait_until

from .conftest import Served


@pytest.fixture(scope="module")
def url(served: Served) -> Iterator[str]:
    from training.serve.app import create_app
    from training.serve.server import ServerThread

    with ServerThread(create_app(served.worker)) as address:
        yield address


def _bars(browser: Any) -> list[tuple[str, str]]:
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, "#genres .genre")
    return [(r.find_element(By.CSS_SELECTOR, ".name").text, r.find_element(By.CSS_SELECTOR, ".value").text)
            for r in rows]


def _timeline_drawn(browser: Any) -> bool:
    """Whether the chart canvas has coloured (line) pixels, not only the grey grid."""
    return bool(browser.execute_script("""
        const c = document.getElementById('timeline');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
          if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 80) return true;
        }
        return false;"""))


def test_upload_shows_genre_bars_spectrogram_and_timeline(browser: Any, url: str, songs: dict[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url)
    assert "run tiny" in browser.find_element(By.ID, "model").text
    browser.find_element(By.ID, "file").send_keys(str(songs["chiptune"]))
    browser.find_element(By.ID, "predict").click()
    wait_until(lambda: len(_bars(browser)) == 3, timeout=60, what="the genre bars")
    bars = _bars(browser)
    assert bars[0][0] == "chiptune" and {name for name, _ in bars} == {"ambient", "chiptune", "noise"}
    assert all(value.endswith("%") for _, value in bars)
    assert "chiptune song.wav: chiptune" in browser.find_element(By.ID, "result-title").text
    image = browser.find_element(By.ID, "spectrogram")
    wait_until(lambda: browser.execute_script("return arguments[0].naturalWidth", image) > 0, timeout=10,
               what="the spectrogram image")
    assert _timeline_drawn(browser)
    assert "3.5 s, 4 crops" in browser.find_element(By.ID, "status").text
    if os.environ.get("SCREENSHOTS_DIR"):
        folder = Path(os.environ["SCREENSHOTS_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        browser.set_window_size(1100, 1250)
        browser.save_screenshot(str(folder / "serve.png"))


def test_not_audio_shows_the_servers_one_line_error(browser: Any, url: str, songs: dict[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url)
    browser.find_element(By.ID, "file").send_keys(str(songs["text"]))
    browser.find_element(By.ID, "predict").click()
    status = browser.find_element(By.ID, "status")
    wait_until(lambda: "Error" in status.text, timeout=30, what="the error line")
    assert "Error 415: notes.mp3: not audio ffmpeg can decode" in status.text
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None


def test_microphone_recording_is_uploaded_and_predicted(browser: Any, url: str) -> None:
    """Chromium's fake device plays a beep; the page records it with MediaRecorder and sends it."""
    import time

    from selenium.webdriver.common.by import By

    browser.get(url)
    browser.find_element(By.ID, "record").click()
    wait_until(lambda: "recording" in browser.find_element(By.ID, "record-status").text, timeout=20,
               what="the recording to start")
    time.sleep(2.0)
    browser.find_element(By.ID, "record").click()
    wait_until(lambda: len(_bars(browser)) == 3, timeout=60, what="the genre bars of the recording")
    title = browser.find_element(By.ID, "result-title").text
    assert title.startswith("recording.")
    status = browser.find_element(By.ID, "status").text
    seconds = float(status.split(": ")[1].split(" s")[0])
    assert 1.0 <= seconds <= 5.0, status
