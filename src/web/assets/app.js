// The pingpong dashboard: fetches where the agent's WebTransport endpoint is
// (with this run's token), pins its certificate by hash, and redraws the table
// from every JSON snapshot the agent sends on a unidirectional stream.
// Everything that comes from the network is written with textContent.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const rows = new Map();
const WINDOW_MS = 5 * 60 * 1000;
const MIN_SPAN_MS = 20 * 1000;
const RETRY_MS = 2000;

function setStatus(kind, text) {
  const status = $("status");
  status.className = "status " + kind;
  status.textContent = text;
}

function showMessage(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

function cell(tr, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function rowFor(server) {
  let row = rows.get(server.key);
  if (row) return row;
  const tr = document.createElement("tr");
  tr.dataset.key = server.key;
  row = {
    tr,
    instance: cell(tr, "instance"),
    source: cell(tr, "source"),
    address: cell(tr, "address"),
    state: cell(tr, "state"),
    version: cell(tr, "version"),
    fingerprint: cell(tr, "fingerprint"),
    rtt: cell(tr, "num rtt"),
    plot: cell(tr, "plot"),
    loss: cell(tr, "num loss"),
    reconnects: cell(tr, "num reconnects"),
  };
  row.canvas = document.createElement("canvas");
  row.canvas.className = "spark";
  row.canvas.width = 180;
  row.canvas.height = 28;
  row.plot.appendChild(row.canvas);
  rows.set(server.key, row);
  return row;
}

function draw(canvas, history) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const now = Date.now();
  const rtts = history.filter((s) => s.rtt_ms !== null).map((s) => s.rtt_ms);
  const top = Math.max(1, ...rtts) * 1.1;
  // The last five minutes, or less while a server is new (at least 20 s).
  const oldest = history.length ? history[0].at_ms : now;
  const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - oldest));
  const x = (at) => width - ((now - at) / span) * width;
  const y = (rtt) => height - 2 - (rtt / top) * (height - 4);
  ctx.strokeStyle = "#2f81f7";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let drawing = false;
  for (const sample of history) {
    if (sample.rtt_ms === null) {
      drawing = false;
      continue;
    }
    if (drawing) ctx.lineTo(x(sample.at_ms), y(sample.rtt_ms));
    else ctx.moveTo(x(sample.at_ms), y(sample.rtt_ms));
    drawing = true;
  }
  ctx.stroke();
  ctx.fillStyle = "#c62828";
  for (const sample of history) {
    if (sample.rtt_ms === null) ctx.fillRect(x(sample.at_ms) - 1, 0, 2, height);
  }
}

function render(snapshot) {
  const seen = new Set();
  const tbody = document.querySelector("#servers tbody");
  for (const server of snapshot.servers) {
    seen.add(server.key);
    const row = rowFor(server);
    row.tr.dataset.instance = server.instance;
    row.tr.dataset.state = server.state;
    row.instance.textContent = server.instance;
    // DNS-SD: the domain too, and how it was learnt on hover.
    row.source.textContent = server.domain ? `${server.source} ${server.domain}` : server.source;
    row.source.title = server.learnt || "";
    row.address.textContent = server.address;
    row.state.textContent = server.state;
    row.state.className = "state " + server.state;
    row.state.title = server.last_error || "";
    if (server.last_error && server.state !== "serving") {
      // Why it is down, in the row itself (not only on hover).
      const reason = document.createElement("div");
      reason.className = "reason";
      reason.textContent = server.last_error;
      row.state.appendChild(reason);
    }
    row.version.textContent = server.version === null ? "—" : "v" + server.version;
    row.fingerprint.textContent = server.fingerprint ? server.fingerprint.slice(0, 16) : "—";
    row.fingerprint.title = server.fingerprint || "";
    row.rtt.textContent = server.rtt_ms === null ? "—" : server.rtt_ms.toFixed(2) + " ms";
    // Nothing sent yet (never connected): no figure to show.
    row.loss.textContent = server.sent
      ? `${((100 * server.lost) / server.sent).toFixed(1)} % (${server.lost}/${server.sent})`
      : "—";
    row.reconnects.textContent = String(server.reconnects);
    draw(row.canvas, server.history);
    tbody.appendChild(row.tr); // keeps the snapshot's order
  }
  for (const [key, row] of rows) {
    if (!seen.has(key)) {
      row.tr.remove();
      rows.delete(key);
    }
  }
  $("servers").hidden = snapshot.servers.length === 0;
  $("empty").hidden = snapshot.servers.length !== 0;
}

async function connect() {
  const response = await fetch("/config.json?token=" + encodeURIComponent(token));
  if (response.status === 403) {
    setStatus("down", "refused");
    showMessage(
      "The agent refused this page's token. Open the URL that `pingpong web` printed " +
        "(the token changes at every start).",
    );
    return false;
  }
  if (!response.ok) throw new Error("config: HTTP " + response.status);
  const config = await response.json();
  // "localhost" may resolve to ::1 while the agent listens on 127.0.0.1.
  const host = location.hostname === "localhost" ? "127.0.0.1" : location.hostname;
  const url = `https://${host}:${config.webtransport_port}/updates?token=${encodeURIComponent(token)}`;
  const transport = new WebTransport(url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(config.cert_sha256) }],
  });
  try {
    await transport.ready;
    setStatus("live", "live");
    showMessage("");
    const streams = transport.incomingUnidirectionalStreams.getReader();
    const { value: stream, done } = await streams.read();
    if (done) throw new Error("the agent sent no update stream");
    const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done: ended } = await lines.read();
      if (ended) break;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        render(JSON.parse(buffer.slice(0, newline)));
        buffer = buffer.slice(newline + 1);
      }
    }
    throw new Error("the agent closed the update stream");
  } finally {
    // Whatever went wrong, give the agent its page slot back before retrying.
    try {
      transport.close();
    } catch (_) {
      // already closed
    }
  }
}

async function run() {
  if (!("WebTransport" in window)) {
    setStatus("down", "unsupported");
    showMessage("This browser has no WebTransport: use a current Chromium, Chrome, Edge or Firefox, at http://127.0.0.1.");
    return;
  }
  for (;;) {
    try {
      if ((await connect()) === false) return;
    } catch (error) {
      setStatus("down", "disconnected");
      showMessage("Lost the agent's live stream (" + (error.message || error) + "); retrying… Is `pingpong web` still running?");
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

run();
