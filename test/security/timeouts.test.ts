/**
 * Slow clients (issue 15, item 6): a body sent a byte at a time gets 408 and
 * its connection closed, instead of holding a request open for ever; and
 * SIGTERM ends `dosis serve` after its grace period even while such a client
 * is still sending (before: the process lived 629 s).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEachBackend } from '../helpers/db.ts';
import { seedDataDir } from '../helpers/services.ts';
import { ADMIN_TOKEN, testRuntime } from '../helpers/app.ts';
import { startServer } from '../helpers/server.ts';

/**
 * Opens a connection, sends the headers of a POST announcing `length` bytes,
 * then one byte every `everyMs` until the server answers or closes. Resolves
 * with what the server sent.
 */
function trickle(port: number, path: string, opts: { length: number; everyMs: number; contentType?: string; token?: string }): { answer: Promise<string>; stop: () => void } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let timer: NodeJS.Timeout | undefined;
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => (received += d.toString()));
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    });
    socket.on('error', () => {});
  });
  socket.on('connect', () => {
    const auth = opts.token ? `Authorization: Bearer ${opts.token}\r\n` : '';
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: ${opts.contentType ?? 'application/json'}\r\nContent-Length: ${opts.length}\r\n\r\n{`);
    timer = setInterval(() => socket.write(' '), opts.everyMs);
  });
  return { answer, stop: () => socket.destroy() };
}

describeEachBackend('a body sent a byte at a time', (t) => {
  it('gets 408 and its connection closed (a JSON route and an upload)', async () => {
    const rt = await testRuntime(t.db, { DOSIS_BODY_TIMEOUT_MS: '300' });
    try {
      await rt.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (rt.app.server.address() as net.AddressInfo).port;
      for (const [path, contentType] of [
        ['/api/v1/public/lookup', 'application/json'],
        ['/api/v1/imports', 'text/csv'],
      ] as const) {
        const slow = trickle(port, path, { length: 10_000, everyMs: 20, contentType, token: ADMIN_TOKEN });
        const text = await slow.answer; // resolves when the server closes the connection
        assert.match(text, /^HTTP\/1\.1 408 /, `${path}: ${text.slice(0, 200)}`);
        assert.match(text, /"code":"body_timeout"/);
      }
    } finally {
      await rt.app.close();
    }
  });
});

describe('SIGTERM with a client still sending', () => {
  const home = mkdtempSync(join(tmpdir(), 'dosis-sigterm-'));
  after(() => rmSync(home, { recursive: true, force: true }));

  it('ends dosis serve after the grace period, closing the open connection', async () => {
    seedDataDir(home);
    // The body guard is set far away so that only the shutdown deadline can end the request.
    const server = await startServer({
      env: { LOG_LEVEL: 'info', DOSIS_DATA_DIR: home, DOSIS_WORKER: 'false', DOSIS_BODY_TIMEOUT_MS: '600000', DOSIS_SHUTDOWN_GRACE_MS: '500', DOSIS_ADMIN_TOKEN: 'dos_sigterm_admin_token_0123456789ab' },
      readyTimeoutMs: 60_000,
    });
    const slow = trickle(server.port, '/api/v1/public/lookup', { length: 1_000_000, everyMs: 50 });
    try {
      // The request is in the server's hands (its start is logged) before the signal.
      await server.waitForOutput(/"path":"\/api\/v1\/public\/lookup"/, 10_000);
      server.signal('SIGTERM');
      const deadline = setTimeout(() => server.signal('SIGKILL'), 30_000);
      const exit = await server.exited;
      clearTimeout(deadline);
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `serve ended by itself after SIGTERM:\n${server.output.slice(-1000)}`);
      await slow.answer; // the connection was closed by the server
    } finally {
      slow.stop();
      await server.kill();
    }
  });
});
