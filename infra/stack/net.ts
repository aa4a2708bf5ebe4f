import { connect, createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** True when something accepts TCP connections on 127.0.0.1:port within `timeoutMs`. */
export function portAccepts(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** True when we could bind 127.0.0.1:port ourselves (also catches listeners on 0.0.0.0). */
function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function portIsFree(port: number): Promise<boolean> {
  return !(await portAccepts(port, 500)) && (await portBindable(port));
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request with a hard timeout; network errors become undefined (not ready yet). */
export async function httpRequest(
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer | undefined> {
  try {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.timeout(init.timeoutMs ?? 3_000),
    });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}
