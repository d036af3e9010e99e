/** Waiting for the end of an import, for the benchmarks that import (the upload: test/helpers/server.ts uploadFile). */
import { request } from '../../test/helpers/server.ts';

/** Polls an import until it is no longer running; returns its last state. */
export async function waitForImport(base: string, token: string, id: string): Promise<Record<string, number | string>> {
  for (;;) {
    const r = await request(base, 'GET', `/api/v1/imports/${id}`, undefined, { authorization: `Bearer ${token}` });
    const s = r.body as Record<string, number | string>;
    // A 503 (database busy, on a loaded machine) is not the import's end: ask again.
    if (r.status !== 503 && s.status !== 'running') return s;
    await new Promise((res) => setTimeout(res, 250));
  }
}
