/**
 * Open-loop HTTP load at a constant rate, for the benchmarks (not a test).
 *
 * Why not autocannon's `overallRate`: it lets every connection send its per-second quota back to
 * back at the top of each second and then idle, so "1,000 requests/s" arrives as one burst of 1,000
 * requests per second and the tail measures the burst's queue. Here request i is due at
 * start + i / rate, is written on an idle keep-alive connection (a new one is opened when all are
 * busy), and its latency runs from when it was due, not from when it was written: a stalled server or
 * a late timer on this side counts against the result (no coordinated omission).
 *
 * Plain HTTP/1.1 over raw sockets with a minimal response reader (status line, Content-Length or
 * chunked), so the generator's own cost stays small next to the server it measures on a 2-core box.
 */
import { connect, type Socket } from 'node:net';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface OpenLoopOptions {
  /** http://host:port */
  url: string;
  rate: number;
  seconds: number;
  /** Request number i (0-based). */
  request: (i: number) => LoadRequest;
  /** Upper bound on open connections; beyond it due requests wait (and the wait is measured). */
  maxConnections?: number;
  /** A request still unanswered after this long counts as a timeout. */
  timeoutMs?: number;
}

export interface OpenLoopResult {
  /** Latencies of 2xx responses in ms, sorted. */
  latencies: number[];
  sent: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  connections: number;
}

interface Pending {
  due: number;
  resolve: (r: { status: number } | { error: string }) => void;
}

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  readonly socket: Socket;
  ready: Promise<void>;
  alive = true;

  constructor(host: string, port: number) {
    this.socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (reason: string): void => {
      this.alive = false;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ error: reason });
    };
    this.socket.on('error', (e) => fail(e.message));
    this.socket.on('close', () => fail('connection closed'));
  }

  get idle(): boolean {
    return this.alive && this.pending === undefined;
  }

  /** Takes the request now (the connection stops being idle) and writes it once connected. */
  send(raw: Buffer, pending: Pending): void {
    this.pending = pending;
    this.ready.then(
      () => this.socket.write(raw),
      (e: Error) => {
        if (this.pending === pending) this.pending = undefined;
        pending.resolve({ error: e.message });
      },
    );
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let total: number;
    if (length !== null) {
      total = end + 4 + Number(length[1]);
      if (this.buffered.length < total) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buffered.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) return;
      total = last + 7;
    } else {
      total = end + 4;
    }
    this.buffered = this.buffered.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    p?.resolve({ status });
  }

  close(): void {
    this.alive = false;
    this.socket.destroy();
  }
}

function encode(host: string, r: LoadRequest): Buffer {
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  const lines = [`${r.method} ${r.path} HTTP/1.1`, `host: ${host}`, 'connection: keep-alive'];
  for (const [k, v] of Object.entries(r.headers ?? {})) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === undefined ? head : Buffer.concat([head, body]);
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const host = target.host;
  const port = Number(target.port || 80);
  const maxConnections = options.maxConnections ?? 64;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const pool: Connection[] = [];
  const waiting: { raw: Buffer; pending: Pending }[] = [];
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let done = 0;
  let opened = 0;

  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const settle = (due: number, r: { status: number } | { error: string }): void => {
    const latency = performance.now() - due;
    if ('error' in r) errors++;
    else if (latency > timeoutMs) timeouts++;
    else if (r.status >= 200 && r.status < 300) latencies.push(latency);
    else non2xx++;
    if (++done === total) finish();
  };

  const dispatch = (raw: Buffer, pending: Pending): void => {
    const connection = pool.find((c) => c.idle);
    if (connection !== undefined) return connection.send(raw, pending);
    if (pool.filter((c) => c.alive).length < maxConnections) {
      const c = new Connection(host.split(':')[0] ?? '127.0.0.1', port);
      opened++;
      pool.push(c);
      return c.send(raw, pending);
    }
    waiting.push({ raw, pending });
  };
  const release = (): void => {
    // Idle connections take the oldest waiting requests first; closed ones make room for new ones.
    for (let i = pool.length - 1; i >= 0; i--) if (!pool[i]?.alive) pool.splice(i, 1);
    while (waiting.length > 0 && pool.length < maxConnections) {
      const next = waiting.shift();
      if (next !== undefined) dispatch(next.raw, next.pending);
    }
    for (const c of pool) {
      if (waiting.length === 0) return;
      if (c.idle) {
        const next = waiting.shift();
        if (next !== undefined) c.send(next.raw, next.pending);
      }
    }
  };

  const start = performance.now() + 5;
  let next = 0;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      const due = start + next * interval;
      const raw = encode(host, options.request(next));
      next++;
      let settled = false;
      dispatch(raw, {
        due,
        resolve: (r) => {
          if (settled) return; // a failing socket can report both 'error' and a refused connect
          settled = true;
          settle(due, r);
          queueMicrotask(release);
        },
      });
    }
    if (next < total) setTimeout(tick, Math.max(0, Math.min(1, start + next * interval - performance.now())));
  };
  setTimeout(tick, 5);
  // Requests never answered would hold the run forever: after the last one is due plus the
  // timeout, whatever is still open counts as timed out.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.seconds * 1000 + timeoutMs + 50)));
  await Promise.race([finished, deadline]);
  clearTimeout(timer);
  stopped = true;
  timeouts += total - done;
  const seconds = (performance.now() - start) / 1000;
  for (const c of pool) c.close();
  latencies.sort((a, b) => a - b);
  return { latencies, sent: total, non2xx, errors, timeouts, seconds, connections: opened };
}
