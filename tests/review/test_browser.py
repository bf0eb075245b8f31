"""The review app in a real headless Chromium: filter the table, open a track, play and seek its audio,
review with the keyboard, and see the decisions in overrides.csv on disk.

Screenshots of the table and the track page go to ``$SCREENSHOTS_DIR`` when set (the README's come
from ``SCREENSHOTS_DIR=docs/screenshots``), else into the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from manifests.layout import Layout
from tests.fixtures.corpus import read_rows
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    driver.save_screenshot(str(target))
    return target


def loaded(driver: Any, path_part: str) -> None:
    wait_until(lambda: path_part in driver.current_url and driver.execute_script(
        "return document.readyState") == "complete", timeout=20, what=f"a page at {path_part}")


def text_of(driver: Any, element_id: str) -> str:
    """An element's text, read in the page as it is now (a reload between find and read is no error)."""
    return str(driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : ''", element_id))


def table_ids(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#tracks tbody tr[data-id]')).map(r => r.dataset.id)"))


def test_filter_the_table_and_open_a_track(browser: Any, live_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.set_window_size(1200, 800)
    browser.get(live_url + "/")
    loaded(browser, "/")
    assert len(table_ids(browser)) == 8
    Select(browser.find_element(By.NAME, "genre")).select_by_value("rock")  # applies at once
    wait_until(lambda: "genre=rock" in browser.current_url, timeout=20, what="the genre filter")
    assert table_ids(browser) == ["rv-nomatch", "rv-rock1", "rv-rock2", "rv-rock3"]
    search = browser.find_element(By.ID, "q")
    search.send_keys("rollers", Keys.ENTER)
    wait_until(lambda: "q=rollers" in browser.current_url, timeout=20, what="the search")
    assert table_ids(browser) == ["rv-rock1", "rv-rock2"]
    assert "2 tracks" in browser.find_element(By.ID, "summary").text
    screenshot(browser, tmp_path, "review-table.png")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    body.send_keys("j")
    body.send_keys(Keys.ENTER)  # the second row, opened from the keyboard
    loaded(browser, "/track/rv-rock2")
    assert "Stone Wall" in browser.find_element(By.TAG_NAME, "h1").text
    assert "q=rollers" in browser.current_url  # the filters travel along for j/k


def test_play_and_seek_the_audio(browser: Any, live_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 800)
    browser.get(live_url + "/track/rv-jazz2?genre=jazz")
    loaded(browser, "/track/rv-jazz2")
    wait_until(lambda: browser.execute_script(
        "const p = document.getElementById('player'); return p.readyState >= 1 && p.duration > 3.9"),
        timeout=20, what="the audio's metadata")
    wait_until(lambda: browser.execute_script(
        "const i = document.getElementById('spectrogram'); return i.complete && i.naturalWidth > 0"),
        timeout=30, what="the spectrogram")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(" ")  # space plays
    wait_until(lambda: browser.execute_script(
        "const p = document.getElementById('player'); return !p.paused && p.currentTime > 0.2"),
        timeout=20, what="playback")
    browser.execute_script("document.getElementById('player').currentTime = 3.0")  # a seek needs Range
    wait_until(lambda: browser.execute_script("return document.getElementById('player').currentTime") >= 3.0,
               timeout=20, what="the seek")
    assert browser.execute_script(
        "const p = document.getElementById('player'); return p.seekable.length > 0 && p.seekable.end(0) > 3.9")
    body.send_keys(" ")  # space pauses
    wait_until(lambda: browser.execute_script("return document.getElementById('player').paused"),
               timeout=10, what="the pause")
    browser.execute_script("document.getElementById('player').currentTime = 1.0")
    screenshot(browser, tmp_path, "review-track.png")


def test_review_with_the_keyboard(browser: Any, live_url: str, review_folder: Layout) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_url + "/track/rv-rock1?genre=rock")
    loaded(browser, "/track/rv-rock1")

    def press(key: str) -> None:
        browser.find_element(By.TAG_NAME, "body").send_keys(key)

    press("a")  # accept: reviewed, on to the next track of the filtered list
    loaded(browser, "/track/rv-rock2")
    assert "reviewed 1 of 8" in browser.find_element(By.ID, "counter").text
    press("d")  # drop rv-rock2, on to rv-rock3
    loaded(browser, "/track/rv-rock3")
    assert [(r["track_id"], r["action"]) for r in read_rows(review_folder, "overrides")] == [("rv-rock2", "drop")]
    assert "reviewed 2 of 8" in browser.find_element(By.ID, "counter").text
    press("k")  # back to rv-rock2
    loaded(browser, "/track/rv-rock2")
    assert "drop" in browser.find_element(By.ID, "override-rows").text
    press("u")  # undo the drop
    wait_until(lambda: not review_folder.overrides.read_text(encoding="utf-8").count("rv-rock2"),
               timeout=20, what="the undo on disk")
    wait_until(lambda: "reviewed 1 of 8" in text_of(browser, "counter"), timeout=20,
               what="the counter after undo")
    assert read_rows(review_folder, "overrides") == []
    reviewed = (review_folder.root / "reports" / "review" / "reviewed.csv").read_text(encoding="utf-8")
    assert "rv-rock1,accept," in reviewed and "rv-rock2" not in reviewed
