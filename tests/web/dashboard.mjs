// Drives Debian's Chromium (never a downloaded browser) against a running
// `pingpong web`, for tests/web_dashboard.rs. Speaks JSON lines on stdout, one
// per step, and takes orders on stdin:
//
//   node dashboard.mjs URL SCREENSHOT INSTANCE...
//   -> {"step":"empty","text":"..."}      the page's empty state, before any server runs
//                                         <- a line once the servers are started
//   -> {"step":"rows","rows":[...]}      every INSTANCE has a row with a live RTT
//   -> {"step":"waiting"}                 <- a line naming the instance that was stopped
//   -> {"step":"stopped","state":"gone"|"draining"}
//   -> {"step":"waiting_hang"}            <- a line naming the instance that was frozen
//   -> {"step":"unreachable","reason":"..."}   the reason shown in its row
//   -> {"step":"wrong_token","message":"...","webtransport":"refused: ..."}
//
// Any failure prints {"step":"error","message":...} and exits 1.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const [url, screenshot, ...instances] = process.argv.slice(2);
const say = (value) => console.log(JSON.stringify(value));
const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "pingpong-chromium-"));
// Flags that work as root on a machine without a display or network; QUIC must
// stay enabled (WebTransport runs on it).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: false,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
  viewport: { width: 1280, height: 360 },
});

async function rowsOf(page) {
  return page.$$eval("#servers tbody tr", (trs) =>
    trs.map((tr) => {
      const text = (cls) => tr.querySelector("." + cls.split(" ")[0])?.textContent ?? "";
      return {
        instance: tr.dataset.instance,
        state: tr.dataset.state,
        source: text("source"),
        address: text("address"),
        version: text("version"),
        fingerprint: tr.querySelector(".fingerprint").title,
        rtt: text("rtt"),
        loss: text("loss"),
        reconnects: text("reconnects"),
      };
    }),
  );
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => process.stderr.write(`console ${message.type()}: ${message.text()}\n`));
  await page.goto(url);
  await page.waitForSelector("#empty", { state: "visible", timeout: 15000 });
  say({ step: "empty", text: await page.textContent("#empty"), status: await page.textContent("#status") });
  await lines.next();
  await page.waitForFunction(
    (wanted) => {
      const rows = [...document.querySelectorAll("#servers tbody tr")];
      return wanted.every((name) =>
        rows.some((tr) => tr.dataset.instance === name && / ms$/.test(tr.querySelector(".rtt").textContent)),
      );
    },
    instances,
    { timeout: 30000 },
  );
  // Let a few pings land so the sparklines have something to draw.
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll("#servers tbody tr")].every((tr) => {
        const counts = /\((\d+)\/(\d+)\)/.exec(tr.querySelector(".loss").textContent);
        return counts && Number(counts[2]) >= 3;
      }),
    null,
    { timeout: 30000 },
  );
  await page.screenshot({ path: screenshot });
  say({ step: "rows", rows: await rowsOf(page), status: await page.textContent("#status") });

  say({ step: "waiting" });
  const stopped = (await lines.next()).value.trim();
  const state = await page.waitForFunction(
    (name) => {
      const tr = [...document.querySelectorAll("#servers tbody tr")].find((row) => row.dataset.instance === name);
      if (!tr) return "gone";
      return tr.dataset.state === "draining" ? "draining" : false;
    },
    stopped,
    { timeout: 30000 },
  );
  say({ step: "stopped", state: await state.jsonValue() });

  // A server that hangs: its row says it is unreachable, and why, in the row.
  say({ step: "waiting_hang" });
  const hung = (await lines.next()).value.trim();
  const reason = await page.waitForFunction(
    (name) => {
      const tr = [...document.querySelectorAll("#servers tbody tr")].find((row) => row.dataset.instance === name);
      if (!tr || tr.dataset.state !== "unreachable") return false;
      return tr.querySelector(".state .reason")?.textContent || false;
    },
    hung,
    { timeout: 30000 },
  );
  say({ step: "unreachable", reason: await reason.jsonValue() });

  // A WebTransport session with a wrong token, from the good page (which knows
  // the port and certificate hash), and a page opened with a wrong token.
  const token = new URL(url).searchParams.get("token");
  const webtransport = await page.evaluate(async (good) => {
    const config = await (await fetch("/config.json?token=" + good)).json();
    try {
      const transport = new WebTransport(`https://127.0.0.1:${config.webtransport_port}/updates?token=wrong`, {
        serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(config.cert_sha256) }],
      });
      await transport.ready;
      transport.close();
      return "accepted";
    } catch (error) {
      return "refused: " + error.message;
    }
  }, token);
  const wrong = await context.newPage();
  const bad = new URL(url);
  bad.searchParams.set("token", "0".repeat(32));
  await wrong.goto(bad.toString());
  await wrong.waitForFunction(() => !document.getElementById("message").hidden, null, { timeout: 15000 });
  say({ step: "wrong_token", message: await wrong.textContent("#message"), webtransport });
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(0);
} catch (error) {
  say({ step: "error", message: String(error && error.stack ? error.stack : error) });
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
