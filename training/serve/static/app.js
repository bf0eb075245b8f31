// The serve page: upload a file or a microphone recording to /api/predict and draw the answer.
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const SHOWN = 5; // genres drawn on the timeline

const $ = (id) => document.getElementById(id);

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

async function send(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  setStatus(`Predicting ${name} …`);
  $("predict").disabled = true;
  try {
    const response = await fetch("api/predict?spectrogram=true&top=" + SHOWN, { method: "POST", body: form });
    const body = await response.json().catch(() => ({ detail: response.statusText }));
    if (!response.ok) {
      setStatus(`Error ${response.status}: ${body.detail}`, true);
      return;
    }
    show(body);
    setStatus(`${name}: ${body.duration_s.toFixed(1)} s, ${body.crops.scores.length} ${body.crops.unit}, ` +
              `answered in ${body.seconds.toFixed(2)} s`);
  } catch (err) {
    setStatus(`Error: ${err}`, true);
  } finally {
    $("predict").disabled = false;
  }
}

function show(result) {
  $("result").hidden = false;
  $("result-title").textContent = `${result.file}: ${result.predicted.join(", ") || "no genre above the threshold"}`;
  const genres = $("genres");
  genres.replaceChildren();
  for (const g of result.genres.slice(0, 10)) {
    const row = document.createElement("div");
    row.className = "genre" + (result.predicted.includes(g.genre) ? " predicted" : "");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = g.genre;
    const track = document.createElement("span");
    track.className = "track";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * g.score).toFixed(1)}%`;
    track.appendChild(bar);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(100 * g.score).toFixed(1)}%`;
    row.append(name, track, value);
    genres.appendChild(row);
  }
  if (result.spectrogram_png) $("spectrogram").src = result.spectrogram_png;
  $("unit").textContent = result.crops.unit;
  drawTimeline(result);
}

function drawTimeline(result) {
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 44, R = 10, T = 10, B = 28;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "12px sans-serif";
  ctx.strokeStyle = "#bbb";
  ctx.fillStyle = "#444";
  const duration = Math.max(result.duration_s, 1e-3);
  const x = (t) => L + (W - L - R) * t / duration;
  const y = (p) => T + (H - T - B) * (1 - p);
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    ctx.beginPath(); ctx.moveTo(L, y(p)); ctx.lineTo(W - R, y(p)); ctx.stroke();
    ctx.fillText(`${Math.round(p * 100)}%`, 4, y(p) + 4);
  }
  const step = Math.max(1, Math.ceil(duration / 10));
  for (let t = 0; t <= duration; t += step) ctx.fillText(`${t}s`, x(t) - 6, H - 8);
  const crops = result.crops;
  const centres = crops.starts_s.map((s, i) => (s + crops.ends_s[i]) / 2);
  const legend = $("legend");
  legend.replaceChildren();
  result.genres.slice(0, SHOWN).forEach((g, k) => {
    const j = result.labels.indexOf(g.genre);
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 2;
    ctx.beginPath();
    crops.scores.forEach((row, i) => {
      const px = x(centres[i]), py = y(row[j]);
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.stroke();
    crops.scores.forEach((row, i) => { ctx.beginPath(); ctx.arc(x(centres[i]), y(row[j]), 3, 0, 2 * Math.PI); ctx.fill(); });
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${COLORS[k % COLORS.length]}"></i>`;
    item.append(g.genre);
    legend.appendChild(item);
  });
  ctx.lineWidth = 1;
}

$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) { setStatus("Choose an audio file first.", true); return; }
  send(file, file.name);
});

let recorder = null;
$("record").addEventListener("click", async () => {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    setStatus("This browser cannot record audio here (it needs https or localhost).", true);
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    setStatus(`No microphone: ${err.message || err}`, true);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    $("record").textContent = "● Record from the microphone";
    $("record-status").textContent = "";
    const type = recorder.mimeType || "audio/webm";
    const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    send(new Blob(chunks, { type }), `recording.${ext}`);
  };
  recorder.start(250);
  const began = Date.now();
  $("record").textContent = "■ Stop and predict";
  const tick = setInterval(() => {
    if (!recorder || recorder.state !== "recording") { clearInterval(tick); return; }
    $("record-status").textContent = `recording ${((Date.now() - began) / 1000).toFixed(0)} s`;
  }, 500);
});
