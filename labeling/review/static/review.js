// genre review: keyboard shortcuts and decisions (plain JavaScript, no library).
"use strict";
(function () {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const statusLine = document.getElementById("status");
  const track = document.getElementById("track");
  const player = document.getElementById("player");

  function say(text, bad) {
    statusLine.textContent = text;
    statusLine.classList.toggle("bad", !!bad);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify(body || {}),
    });
    const reply = await response.json().catch(() => ({error: response.statusText}));
    if (!response.ok) { throw new Error(reply.error || response.statusText); }
    return reply;
  }

  function showCounts(reply) {
    const count = document.getElementById("reviewed-count");
    if (count && reply.counts) { count.textContent = reply.counts.reviewed; }
    const depth = document.getElementById("undo-depth");
    if (depth) { depth.textContent = reply.undo_depth; }
    const undo = document.getElementById("undo");
    if (undo) { undo.disabled = !reply.undo_depth; }
  }

  async function decide(action, value) {
    if (!track) { return; }
    const note = (document.getElementById("note") || {}).value || "";
    say(action + "…");
    try {
      const reply = await post("/api/action", {track_id: track.dataset.id, action: action, value: value || "", note: note});
      showCounts(reply);
      document.body.dataset.lastAction = action;
      say(action + (value ? " " + value : "") + " saved");
      // accept and drop finish a track: go on to the next one; other decisions show their effect
      if ((action === "accept" || action === "drop") && track.dataset.next) {
        window.location.assign(track.dataset.next);
      } else {
        window.location.reload();
      }
    } catch (error) {
      say(error.message, true);
    }
  }

  async function undo() {
    say("undo…");
    try {
      const reply = await post("/api/undo");
      showCounts(reply);
      if (!reply.undone) { say("nothing to undo"); return; }
      say("undid " + reply.undone.action + " of " + reply.undone.track_id);
      const qs = track ? track.dataset.qs : window.location.search.replace(/^\?/, "");
      if (track && reply.undone.track_id !== track.dataset.id) {
        window.location.assign("/track/" + encodeURIComponent(reply.undone.track_id) + "?" + qs);
      } else {
        window.location.reload();
      }
    } catch (error) {
      say(error.message, true);
    }
  }

  document.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      let value = button.dataset.value || "";
      if (button.dataset.valueFrom) { value = document.getElementById(button.dataset.valueFrom).value; }
      decide(button.dataset.action, value);
    });
  });
  const undoButton = document.getElementById("undo");
  if (undoButton) { undoButton.addEventListener("click", undo); }

  // the table: filters apply as soon as they change; rows are selected with j/k
  const filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select, input[type=checkbox]").forEach(function (field) {
      field.addEventListener("change", function () { filters.requestSubmit(); });
    });
  }
  const rows = Array.from(document.querySelectorAll("#tracks tbody tr[data-id]"));
  let selected = -1;
  function select(index) {
    if (!rows.length) { return; }
    if (selected >= 0) { rows[selected].classList.remove("selected"); }
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows[selected].classList.add("selected");
    rows[selected].scrollIntoView({block: "nearest"});
  }
  rows.forEach(function (row, index) {
    row.addEventListener("click", function (event) {
      if (event.target.tagName !== "A") { select(index); }
    });
  });

  // the track page: click the picture to seek there (the plot spans 5%..99% of its width)
  const picture = document.getElementById("spectrogram");
  if (picture && player) {
    picture.addEventListener("click", function (event) {
      const box = picture.getBoundingClientRect();
      const fraction = ((event.clientX - box.left) / box.width - 0.05) / 0.94;
      if (isFinite(player.duration)) {
        player.currentTime = Math.max(0, Math.min(1, fraction)) * player.duration;
      }
    });
  }

  function go(url) { if (url) { window.location.assign(url); } }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea")) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    const key = event.key;
    if (track) {
      if (key === "j" || key === "n") { go(track.dataset.next); }
      else if (key === "k" || key === "p") { go(track.dataset.previous); }
      else if (key === " ") {
        event.preventDefault();
        if (player) { if (player.paused) { player.play(); } else { player.pause(); } }
      }
      else if (key === "ArrowRight" && player) { event.preventDefault(); player.currentTime = Math.min(player.duration || 0, player.currentTime + 5); }
      else if (key === "ArrowLeft" && player) { event.preventDefault(); player.currentTime = Math.max(0, player.currentTime - 5); }
      else if (key === "a") { decide("accept"); }
      else if (key === "d") { decide("drop"); }
      else if (key === "u") { undo(); }
      else if (key === "b") { go(document.getElementById("back").href); }
      return;
    }
    if (key === "j" || key === "ArrowDown") { event.preventDefault(); select(selected + 1); }
    else if (key === "k" || key === "ArrowUp") { event.preventDefault(); select(selected - 1); }
    else if ((key === "Enter" || key === "o") && selected >= 0) { go(rows[selected].dataset.href); }
    else if (key === "/") { event.preventDefault(); document.getElementById("q").focus(); }
    else if (key === "n") { const next = document.getElementById("next-page"); if (next) { go(next.href); } }
    else if (key === "p") { const prev = document.getElementById("prev-page"); if (prev) { go(prev.href); } }
    else if (key === "u") { undo(); }
  });
})();
