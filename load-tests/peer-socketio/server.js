// The Socket.IO peer of the SignalStream load harness (docs: load-tests/README.md).
//
// It does what a user would write with Socket.IO for the same job: one room per symbol, a client joins with
// socket.emit("subscribe", {symbol}) and receives "signal" events. Fairness: it is fed exactly like a SignalStream
// hub-role node, from the same Redis channels ({prefix}:{SYMBOL}) carrying the same envelopes
// {"kind":"signal","signal":{...}}, and it emits the same signal object clients get from SignalStream. The
// @socket.io/redis-adapter is installed so that several peer nodes share rooms, as a production Socket.IO would run.
//
//   node server.js --port 5091 --redis 127.0.0.1:6379 --prefix signalstream [--max-buffer 1048576]
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, value, i, all) => (i % 2 === 0 ? pairs.concat([[value.replace(/^--/, ""), all[i + 1]]]) : pairs), []));
const port = Number(args.port || 5091);
const [redisHost, redisPort] = (args.redis || "127.0.0.1:6379").split(":");
const prefix = args.prefix || "signalstream";
// Slow consumers: a client whose unsent buffer passes this many bytes is disconnected, like SignalStream's
// Hub:OutboundQueueLimit (Socket.IO itself has no such limit and would buffer without bound).
const maxBuffer = Number(args["max-buffer"] || 1048576);

async function main() {
  const url = `redis://${redisHost}:${redisPort}`;
  const pub = createClient({ url });
  const sub = pub.duplicate();
  const feed = pub.duplicate();
  for (const c of [pub, sub, feed]) c.on("error", (e) => console.error("redis:", e.message));
  await Promise.all([pub.connect(), sub.connect(), feed.connect()]);

  const server = http.createServer((req, res) => {
    res.writeHead(req.url === "/health" ? 200 : 404).end(req.url === "/health" ? "ok" : "");
  });
  const io = new Server(server, { transports: ["websocket"], adapter: createAdapter(pub, sub), serveClient: false });
  const subscribed = new Set();

  io.on("connection", (socket) => {
    socket.on("subscribe", async (message, ack) => {
      const symbol = message && typeof message.symbol === "string" ? message.symbol : "";
      if (!/^[A-Z0-9]{2,20}$/.test(symbol)) {
        if (typeof ack === "function") ack({ error: `'${symbol}' is not a symbol` });
        return;
      }
      socket.join(symbol);
      if (!subscribed.has(symbol)) {
        subscribed.add(symbol);
        await feed.subscribe(`${prefix}:${symbol}`, (payload) => {
          // Same payload SignalStream delivers: the signal object inside the envelope.
          const at = payload.indexOf('"signal":');
          if (at < 0) return;
          const signal = payload.slice(at + 9, payload.length - 1);
          io.to(symbol).emit("signal", JSON.parse(signal));
        });
      }
      if (typeof ack === "function") ack({ symbol });
    });
  });

  // Disconnect slow consumers (bounded per-connection buffering).
  setInterval(() => {
    for (const socket of io.of("/").sockets.values()) {
      const ws = socket.conn && socket.conn.transport && socket.conn.transport.socket;
      if (ws && ws._socket && ws._socket.writableLength > maxBuffer) socket.disconnect(true);
    }
  }, 250).unref();

  server.listen(port, "127.0.0.1", () => console.log(`socket.io peer listening on 127.0.0.1:${port}`));
  const stop = () => { io.close(); Promise.allSettled([pub.quit(), sub.quit(), feed.quit()]).finally(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
