import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { freePort } from "./server.js";

/**
 * A TCP proxy in front of the server that a test can cut and restore: the client's connection dies as on a network
 * failure while the server keeps running (and keeps producing signals the client must later recover).
 */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const port = await freePort();
    let proxy!: CuttableProxy;
    const server = createServer((client) => {
      if (!proxy.open) {
        client.destroy(); // refuse while cut: every reconnect attempt fails until restore()
        return;
      }
      const upstream = tcpConnect(targetPort, "127.0.0.1");
      proxy.sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        proxy.sockets.delete(client);
        proxy.sockets.delete(upstream);
      };
      client.on("error", close).on("close", close);
      upstream.on("error", close).on("close", close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    proxy = new CuttableProxy(server, port);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Kills every proxied connection and refuses new ones. */
  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
