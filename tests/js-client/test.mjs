// The official @microsoft/signalr client against a real SignalStream hub node (role hub). This script plays the engine
// node: it publishes signals to the node's Redis channel in the bus format of docs/hub.md, over a raw RESP socket.
import * as signalR from "@microsoft/signalr";
import net from "node:net";

const url = process.env.HUB_URL;
const [redisHost, redisPort] = (process.env.SIGNALSTREAM_TEST_REDIS ?? "").split(":");
const prefix = process.env.HUB_CHANNEL_PREFIX ?? "signalstream";
let passed = 0, failed = 0;

async function test(name, body) {
  try {
    await withTimeout(body(), 20000, name);
    passed++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

function assert(condition, message) { if (!condition) throw new Error(message); }

function publish(symbol, payload) {
  return new Promise((resolve, reject) => {
    const channel = `${prefix}:${symbol}`;
    const body = JSON.stringify(payload);
    const arg = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
    const socket = net.createConnection({ host: redisHost, port: Number(redisPort) }, () => {
      socket.write(`*3\r\n${arg("PUBLISH")}${arg(channel)}${arg(body)}`);
    });
    socket.once("data", (data) => { socket.end(); data.toString().startsWith(":") ? resolve() : reject(new Error(data.toString())); });
    socket.once("error", reject);
  });
}

function signal(seq, timeframe = "1m", confidence = 80) {
  const t = 1_700_000_000_000 + seq * 60_000;
  return {
    id: `BTCUSDT-${timeframe}-${seq}`, seq, symbol: "BTCUSDT", timeframe, direction: "long", confidence,
    probabilities: { down: 0.1, flat: 0.1, up: 0.8 }, entry: 100, target: 110, stop: 95, riskReward: 2, fusionScore: 70,
    models: [{ name: "lstm-direction", version: "1", family: "lstm", vote: "long", weight: 0.6, probabilities: { down: 0.1, flat: 0.1, up: 0.8 } }],
    rationale: ["js test"], candleOpenTime: t, candleCloseTime: t + 59_999, createdAt: t + 60_000, expiresAt: t + 3_600_000,
    exchangeTime: t + 60_000, receivedAt: t + 60_001, publishedAt: Date.now(),
  };
}

const connection = new signalR.HubConnectionBuilder()
  .withUrl(`${url}/hubs/signals`)
  .configureLogging(signalR.LogLevel.Warning)
  .build();
const received = [];
let notify = () => {};
connection.on("signal", (s) => { received.push(s); notify(); });

function waitFor(count) {
  return new Promise((resolve) => {
    const check = () => { if (received.length >= count) resolve(); };
    notify = check;
    check();
  });
}

await test("connects over WebSockets with the official client", async () => {
  await connection.start();
  assert(connection.state === signalR.HubConnectionState.Connected, `state ${connection.state}`);
});

await test("Subscribe returns a SubscribeResult", async () => {
  const result = await connection.invoke("Subscribe", { symbol: "btcusdt", timeframes: ["1m", "1h"], minConfidence: 50 });
  assert(result.symbol === "BTCUSDT", JSON.stringify(result));
  assert(Array.isArray(result.signals) && result.recovered === true, JSON.stringify(result));
  assert(result.timeframes.join(",") === "1m,1h", JSON.stringify(result.timeframes));
});

await test("receives published signals in seq order, filtered by the subscription", async () => {
  for (let seq = 1; seq <= 5; seq++) await publish("BTCUSDT", { kind: "signal", signal: signal(seq, seq === 3 ? "5m" : "1m") });
  await waitFor(4);
  assert(received.map((s) => s.seq).join(",") === "1,2,4,5", received.map((s) => s.seq).join(","));
  assert(received[0].direction === "long" && received[0].probabilities.up === 0.8, JSON.stringify(received[0]));
});

await test("invalid arguments come back as an actionable HubException", async () => {
  try {
    await connection.invoke("Subscribe", { symbol: "BTCUSDT", minConfidence: 250 });
    throw new Error("expected an error");
  } catch (error) {
    assert(String(error.message).includes("from 0 to 100"), error.message);
  }
});

await test("Unsubscribe stops delivery", async () => {
  await connection.invoke("Unsubscribe", "BTCUSDT");
  await publish("BTCUSDT", { kind: "signal", signal: signal(6) });
  // Resume after 6: whether or not the node has processed 6 yet, this connection must not get it.
  const result = await connection.invoke("Subscribe", { symbol: "BTCUSDT", afterSeq: 6 });
  assert(result.signals.length === 0, JSON.stringify(result.signals.map((s) => s.seq)));
  await publish("BTCUSDT", { kind: "signal", signal: signal(7) });
  await waitFor(5);
  assert(received.map((s) => s.seq).join(",") === "1,2,4,5,7", received.map((s) => s.seq).join(","));
});

await connection.stop().catch(() => {});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
