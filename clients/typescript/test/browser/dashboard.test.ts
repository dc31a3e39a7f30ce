import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, type RunningServer, startServer, waitForFirstSignal } from "../support/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Into the ignored artifacts/ folder, so a test run leaves the work tree clean; DASHBOARD_SCREENSHOT=docs/dashboard.png
// refreshes the picture in the README.
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? join(repoRoot, "artifacts", "dashboard.png");

let server: RunningServer;
let browser: BrowserContext;
let profile: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  server = await startServer({ speed: 600 });
  await waitForFirstSignal(server);
  profile = mkdtempSync(join(tmpdir(), "signalstream-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe("the dashboard in Chromium on a simulated run", () => {
  it("shows live signals, the latest per timeframe, candles, latency, status, the journal and its charts", async () => {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));

    await page.goto(server.url + "/");
    await expect(page.title()).resolves.toContain("SignalStream");

    await page.waitForSelector("#status[data-state=connected]", { timeout: 60_000 });
    await page.waitForSelector("#symbols li[data-symbol]", { timeout: 30_000 });
    // Live signals arriving over SignalR, rendered into the feed by the SDK's handlers.
    await page.waitForFunction(() => document.querySelectorAll("#feed tr[data-source=live]").length >= 5, null, { timeout: 120_000 });
    await page.waitForSelector("#latest .card[data-timeframe]", { timeout: 30_000 });
    await page.waitForFunction(() => Number(document.querySelector("#chart")?.getAttribute("data-candles")) >= 10, null, { timeout: 60_000 });
    await page.waitForFunction(() => /\d+ ms|\d+(\.\d)? s/.test(document.querySelector("#latency-e2e")?.textContent ?? ""), null, { timeout: 30_000 });
    await page.waitForFunction(() => (document.querySelector("#performance-time")?.textContent ?? "").startsWith("updated"), null, { timeout: 30_000 });
    // The journal's charts, drawn from /api/performance once signals have resolved: equity curves and calibration.
    await page.waitForFunction(() => Number(document.querySelector("#equity-chart")?.getAttribute("data-points")) >= 2, null, { timeout: 90_000 });
    await page.waitForFunction(() => Number(document.querySelector("#calibration-chart")?.getAttribute("data-points")) >= 1, null, { timeout: 30_000 });

    const symbols = await page.$$eval("#symbols li[data-symbol]", (items) => items.map((li) => li.getAttribute("data-symbol")));
    expect(symbols.length).toBeGreaterThan(0);

    // Each card carries direction, confidence, entry, target and stop.
    const card = await page.$eval("#latest .card", (c) => ({ classes: c.className, text: c.textContent ?? "" }));
    expect(card.classes).toMatch(/long|short/);
    for (const label of ["confidence", "entry", "target", "stop"]) expect(card.text).toContain(label);

    // The feed is in seq order per symbol: newest first, no repeated seq.
    const rows = await page.$$eval("#feed tr[data-seq]", (trs) => trs.map((tr) => [tr.getAttribute("data-symbol"), Number(tr.getAttribute("data-seq"))] as const));
    const bySymbol = new Map<string, number[]>();
    for (const [symbol, seq] of rows) bySymbol.set(symbol!, [...(bySymbol.get(symbol!) ?? []), seq]);
    for (const seqs of bySymbol.values()) {
      const ascending = [...seqs].reverse();
      expect(new Set(ascending).size).toBe(ascending.length);
      expect([...ascending].sort((a, b) => a - b)).toEqual(ascending);
    }

    // The endpoint carries the curves the chart draws, and both canvases have been painted.
    const performance = await (await fetch(server.url + "/api/performance")).json() as { groups: Array<{ symbol: string; timeframe: string; equity?: unknown[] | null }> };
    const withEquity = performance.groups.filter((g) => g.symbol === "*" && g.timeframe === "*" && (g.equity?.length ?? 0) > 0).length;
    expect(withEquity).toBeGreaterThanOrEqual(1);
    expect(Number(await page.$eval("#equity-chart", (c) => c.getAttribute("data-series")))).toBeGreaterThanOrEqual(1);
    for (const id of ["#equity-chart", "#calibration-chart"]) {
      const painted = await page.$eval(id, (c) => {
        const canvas = c as HTMLCanvasElement;
        const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        let colored = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) colored++;
        return colored;
      });
      expect(painted, `${id} has painted pixels`).toBeGreaterThan(500);
    }

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(consoleErrors).toEqual([]);
  });
});
