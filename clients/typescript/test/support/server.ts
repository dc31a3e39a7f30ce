/**
 * Starts the real SignalStream server (src/Hub) for integration and browser tests: simulated market, a private data
 * folder, a free loopback port. The built assembly runs directly (not through `dotnet run`) so that stopping it stops
 * the server itself, by its pid.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(fileURLToPath(new URL("../../../..", import.meta.url)));
const hubDir = join(repoRoot, "src", "Hub");

/**
 * Permissive decision settings (the hub's end-to-end tests use the same): at the reference thresholds the bundled models
 * give about two signals per symbol per minute at 600x, too few to test quickly.
 */
export const PERMISSIVE_DECISIONS = [
  "--Signals:MinVoteScore=0.34",
  "--Signals:MinVoteMargin=0",
  "--Signals:RequireFamilyAgreement=false",
  "--Signals:MinRiskReward=0.1",
  "--Signals:ExpiryCandles=4",
];

export interface ServerOptions {
  port?: number;
  /** The file store's folder; reuse it across a restart to keep seq and history. Default: a new temporary folder. */
  dataDir?: string;
  /** Simulated market speed (60 closes a 1m candle every second). */
  speed?: number;
  extraArgs?: string[];
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The server's console output so far (for failure messages). */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and waits for it to exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

function hubAssembly(): string {
  const fromEnv = process.env.SIGNALSTREAM_HUB_DLL;
  const candidates = [fromEnv, ...["Release", "Debug"].map((c) => join(hubDir, "bin", c, "net10.0", "SignalStream.Hub.dll"))];
  const found = candidates.find((c): c is string => c !== undefined && c !== "" && existsSync(c));
  if (found === undefined) {
    throw new Error(`SignalStream.Hub.dll not found (looked at ${candidates.filter(Boolean).join(", ")}): run 'dotnet build src/Hub -c Release' first, or set SIGNALSTREAM_HUB_DLL`);
  }
  return found;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "signalstream-sdk-"));
  const url = `http://127.0.0.1:${port}`;
  const args = [
    hubAssembly(),
    "--urls", url,
    "--Ingest:Source=simulated",
    `--Ingest:Simulated:Speed=${options.speed ?? 600}`,
    "--Storage:Provider=file",
    `--Storage:File:Path=${dataDir}`,
    // Absolute: the working directory is src/Hub, where a relative "models" would not find the repository's models/.
    `--Models:Path=${join(repoRoot, "models")}`,
    ...(options.extraArgs ?? []),
  ];
  // The working directory is the project's, as with `dotnet run --project src/Hub`: wwwroot and models resolve there.
  const child = spawn("dotnet", args, { cwd: hubDir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOTNET_NOLOGO: "1" } });
  running.add(child);
  let output = "";
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => {
    running.delete(child);
    resolveExit();
  }));

  const server: RunningServer = {
    url,
    port,
    dataDir,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output.slice(-4000)}`);
    }
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) return server;
    } catch {
      // Not listening yet: keep polling until the deadline.
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`the server at ${url} was not ready within 90 s:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resolves when `condition` holds, re-checking every 50 ms; fails after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the server has published its first signal (any symbol). Suites call it once up front so that a server
 * that publishes nothing fails them at once with one clear reason, rather than each test timing out on its own.
 */
export async function waitForFirstSignal(server: RunningServer, timeoutMs = 120_000): Promise<void> {
  let last = "";
  await waitFor(async () => {
    try {
      const response = await fetch(`${server.url}/api/symbols`);
      last = `${response.status} ${await response.text()}`;
      const rows = response.ok ? ((JSON.parse(last.slice(4)) as Array<{ latestSeq: number }>) ?? []) : [];
      return rows.some((row) => row.latestSeq > 0);
    } catch (error) {
      last = String(error);
      return false;
    }
  }, "the server's first signal (the engine must run and models/ must hold model manifests)", timeoutMs)
    .catch((error: Error) => {
      throw new Error(`${error.message}\nlast /api/symbols answer: ${last.slice(0, 500)}\nserver output:\n${server.output().slice(-3000)}`);
    });
}
