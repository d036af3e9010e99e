/**
 * A thread that reads one import file (sheet-thread.ts starts it): inflating
 * and parsing happen here, the bytes come from the main thread on request
 * (they live in the database, whose connection is the main thread's), and
 * rows go back in batches, one batch per request, so a fast parser cannot
 * flood a slow importer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../domain/errors.ts';
import { openSheet, type ByteSource, type FileFormat } from './read.ts';
import type { SheetRow } from './columns.ts';
import type { FromMain, ToMain } from './sheet-thread.ts';

const port = parentPort;
if (!port) throw new Error('sheet-worker.ts runs as a worker thread');
const { size, format } = workerData as { size: number; format: FileFormat };

const ROWS_PER_BATCH = 500;
const replies = new Map<number, (m: Extract<FromMain, { type: 'bytes' }>) => void>();
let wantRows: (() => void) | null = null;
let rowsWanted = 0;
let reads = 0;

port.on('message', (m: FromMain) => {
  if (m.type === 'bytes') {
    const r = replies.get(m.id);
    replies.delete(m.id);
    r?.(m);
  } else {
    rowsWanted++;
    wantRows?.();
  }
});

const send = (m: ToMain): void => port.postMessage(m);

/** The file as a ByteSource whose reads are answered by the main thread, a piece per request. */
const source: ByteSource = {
  size,
  async *read(start: number, end: number) {
    const id = ++reads;
    for (let first = true; ; first = false) {
      const m = await new Promise<Extract<FromMain, { type: 'bytes' }>>((resolve) => {
        replies.set(id, resolve);
        send(first ? { type: 'pull', id, start, end } : { type: 'pull', id });
      });
      if (m.error !== undefined) throw new Error(m.error);
      if (m.data === null) return;
      yield m.data;
    }
  },
};

async function rowsRequested(): Promise<void> {
  if (rowsWanted === 0) await new Promise<void>((resolve) => (wantRows = resolve));
  wantRows = null;
  rowsWanted--;
}

try {
  const sheet = await openSheet(source, format);
  send({ type: 'opened', date1904: sheet.date1904 });
  await rowsRequested();
  let batch: SheetRow[] = [];
  for await (const row of sheet.rows()) {
    batch.push(row);
    if (batch.length >= ROWS_PER_BATCH) {
      send({ type: 'batch', rows: batch, delimiter: sheet.delimiter, done: false });
      batch = [];
      await rowsRequested();
    }
  }
  send({ type: 'batch', rows: batch, delimiter: sheet.delimiter, done: true });
} catch (e) {
  send({
    type: 'error',
    error: e instanceof AppError ? { kind: e.kind, code: e.code, text: e.text, ...(e.detail ? { detail: e.detail } : {}) } : { message: (e as Error).message ?? String(e) },
  });
}
