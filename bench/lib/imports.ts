/** Uploading a file to `POST /api/v1/imports` and waiting for its end, for the benchmarks that import. */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { request } from '../../test/helpers/server.ts';

/** Streams the file at `path` to a running `dosis serve`. */
export function uploadFile(base: string, token: string, path: string): Promise<{ status: number; body: { id: string; rowsTotal: number } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('/api/v1/imports?fileName=bench.csv', base), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': String(statSync(path).size) },
      timeout: 600_000,
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    createReadStream(path).pipe(req);
  });
}

/** Polls an import until it is no longer running; returns its last state. */
export async function waitForImport(base: string, token: string, id: string): Promise<Record<string, number | string>> {
  for (;;) {
    const r = await request(base, 'GET', `/api/v1/imports/${id}`, undefined, { authorization: `Bearer ${token}` });
    const s = r.body as Record<string, number | string>;
    if (s.status !== 'running') return s;
    await new Promise((res) => setTimeout(res, 250));
  }
}
