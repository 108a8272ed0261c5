import { connect, createServer, type Server, type Socket } from 'node:net';

/** One client connection and the connection to the backing process it is piped to. */
interface Pipe {
  client: Socket;
  backend: Socket;
  target: number;
}

/**
 * The stable front of one instance: the agent listens on the instance's public port and pipes
 * every connection to the port of the process currently backing the instance. Healing with a
 * warm spare is then a switch of `target` (no process has to start first); connections piped to
 * the old process are closed, so clients reconnect and reach the new one.
 *
 * Hand-written on node:net rather than an HTTP proxy library: every request to a fronted
 * instance crosses it, so it does as little as possible (no parsing, one pipe per direction).
 */
export class FrontProxy {
  private readonly pipes = new Set<Pipe>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: number | null,
  ) {
    server.on('connection', (client) => this.pipe(client));
  }

  /**
   * Listens on `host:port` (port 0: the OS picks) and pipes to `target` (null: refuse until
   * switched). The host is the agent's HTTP_HOST, loopback by default like every HTTP server here.
   */
  static listen(port: number, target: number | null, host = process.env.HTTP_HOST || '127.0.0.1'): Promise<FrontProxy> {
    const server = createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') return reject(new Error('front proxy has no port'));
        resolve(new FrontProxy(server, address.port, target));
      });
    });
  }

  /** The port connections are piped to now. */
  get targetPort(): number | null {
    return this.target;
  }

  /** Connections open through the front now. */
  get connections(): number {
    return this.pipes.size;
  }

  /** New connections go to `port`; those piped to any other port are closed at once. */
  switchTo(port: number): void {
    this.target = port;
    for (const pipe of this.pipes) {
      if (pipe.target !== port) this.drop(pipe);
    }
  }

  async close(): Promise<void> {
    for (const pipe of this.pipes) this.drop(pipe);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    const target = this.target;
    if (target === null) {
      client.destroy();
      return;
    }
    const backend = connect({ host: '127.0.0.1', port: target, noDelay: true });
    const pipe: Pipe = { client, backend, target };
    this.pipes.add(pipe);
    const end = () => this.drop(pipe);
    client.on('error', end).on('close', end);
    backend.on('error', end).on('close', end);
    client.pipe(backend);
    backend.pipe(client);
  }

  private drop(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.client.destroy();
    pipe.backend.destroy();
  }
}
