/**
 * Where an import's bytes live. An uploaded file is kept in the database in
 * 1 MiB chunks while its import runs, so any Dosis process can read it — the
 * one that received it, or another that resumes it after a crash. The CLI
 * reads a local file directly.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Db } from '../../db/client.ts';
import type { ByteSource } from './read.ts';

export const CHUNK_BYTES = 1024 * 1024;

/** A file on disk. */
export async function fileSource(path: string): Promise<ByteSource> {
  const { size } = await stat(path);
  return {
    size,
    async *read(start: number, end: number) {
      if (end <= start) return;
      for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 256 * 1024 })) yield chunk as Buffer;
    },
  };
}

/** The chunks of an uploaded file in import_chunks (fixed size, so a range maps to chunk numbers). */
export function chunkSource(db: Db, importId: string, size: number): ByteSource {
  return {
    size,
    async *read(start: number, end: number) {
      const to = Math.min(end, size);
      // A few chunks per query: fewer round trips, bounded memory.
      for (let seq = Math.floor(start / CHUNK_BYTES); seq * CHUNK_BYTES < to; seq += 4) {
        const r = await db.query<{ seq: number; data: Uint8Array }>(
          'SELECT seq, data FROM import_chunks WHERE import_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
          [importId, seq, seq + 4],
        );
        for (const row of r.rows) {
          const base = row.seq * CHUNK_BYTES;
          const from = Math.max(0, start - base);
          const until = Math.min(row.data.length, to - base);
          if (until > from) yield Buffer.from(row.data.buffer, row.data.byteOffset + from, until - from);
        }
        if (r.rows.length < 4 && (seq + r.rows.length) * CHUNK_BYTES < to) throw new Error(`import ${importId}: chunk ${seq + r.rows.length} is missing`);
      }
    },
  };
}

/**
 * Stores a stream into import_chunks in fixed-size chunks; returns the size and
 * the first bytes (to tell CSV from XLSX). Stops with `tooLarge` past `maxBytes`.
 */
export async function storeChunks(
  db: Db,
  importId: string,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: { maxBytes: number; tooLarge: () => Error; onBytes?: (n: number) => void },
): Promise<{ size: number; head: Uint8Array; sha256: Buffer }> {
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  let seq = 0;
  let head = new Uint8Array(0);
  const flush = async (all: boolean) => {
    while (pendingBytes >= CHUNK_BYTES || (all && pendingBytes > 0)) {
      const joined = Buffer.concat(pending, pendingBytes);
      const piece = joined.subarray(0, Math.min(CHUNK_BYTES, joined.length));
      const rest = joined.subarray(piece.length);
      await db.query('INSERT INTO import_chunks (import_id, seq, data) VALUES ($1, $2, $3)', [importId, seq++, piece]);
      pending = rest.length ? [Buffer.from(rest)] : [];
      pendingBytes = rest.length;
    }
  };
  for await (const c of input) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
    size += chunk.length;
    if (size > opts.maxBytes) throw opts.tooLarge();
    if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
    hash.update(chunk);
    pending.push(chunk);
    pendingBytes += chunk.length;
    opts.onBytes?.(size);
    if (pendingBytes >= CHUNK_BYTES) await flush(false);
  }
  await flush(true);
  return { size, head, sha256: hash.digest() };
}
