/**
 * Reading an import file off the main thread (issue 15, item 12). Inflating
 * and parsing an XLSX is CPU work in long stretches: a 2 MB zip bomb kept the
 * event loop of an embedded (PGlite) server busy for 11.6 s, `/healthz`
 * included. `openSheetOffThread` has the same contract as `openSheet`
 * (read.ts), but the work runs in a worker thread (sheet-worker.ts); this
 * thread only answers its byte reads from the ByteSource (the database or a
 * file) and receives rows in batches. One thread per file being read; it
 * ends with the file's rows (or its error).
 */
import { Worker } from 'node:worker_threads';
import { AppError, type ErrorKind, type Text } from '../../domain/errors.ts';
import { openSheet, type ByteSource, type FileFormat, type SheetReader } from './read.ts';
import type { SheetRow } from './columns.ts';

/** Messages from the main thread to the reading thread. */
export type FromMain = { type: 'bytes'; id: number; data: Uint8Array | null; error?: string } | { type: 'rows' };

/** Messages from the reading thread. */
export type ToMain =
  | { type: 'pull'; id: number; start?: number; end?: number }
  | { type: 'opened'; date1904: boolean }
  | { type: 'batch'; rows: SheetRow[]; delimiter: ',' | ';' | null; done: boolean }
  | { type: 'error'; error: { kind: ErrorKind; code: string; text: Text; detail?: Record<string, unknown> } | { message: string } };

type Reply = Extract<ToMain, { type: 'opened' | 'batch' | 'error' }>;

/** Opens a file of either format in a worker thread; rows() may be read once. */
export async function openSheetOffThread(source: ByteSource, format: FileFormat): Promise<SheetReader> {
  if (source.size === 0) return openSheet(source, format); // throws the "empty file" error, no thread needed
  const worker = new Worker(new URL('./sheet-worker.ts', import.meta.url), { workerData: { size: source.size, format } });
  worker.unref(); // a reader left unread never keeps the process alive
  const reads = new Map<number, AsyncIterator<Uint8Array>>();
  const replies: Reply[] = [];
  let waiter: { resolve: (m: Reply) => void; reject: (e: Error) => void } | null = null;
  let failed: Error | null = null;

  const deliver = (m: Reply): void => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w.resolve(m);
    } else replies.push(m);
  };
  const fail = (e: Error): void => {
    failed = e;
    waiter?.reject(e);
    waiter = null;
  };
  const next = (): Promise<Reply> => {
    const m = replies.shift();
    if (m) return Promise.resolve(m);
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => (waiter = { resolve, reject }));
  };
  const answerPull = async (m: Extract<ToMain, { type: 'pull' }>): Promise<void> => {
    let it = reads.get(m.id);
    if (!it) {
      it = source.read(m.start ?? 0, m.end ?? source.size)[Symbol.asyncIterator]();
      reads.set(m.id, it);
    }
    let reply: FromMain;
    try {
      const r = await it.next();
      if (r.done) reads.delete(m.id);
      reply = { type: 'bytes', id: m.id, data: r.done ? null : r.value };
    } catch (e) {
      reads.delete(m.id);
      reply = { type: 'bytes', id: m.id, data: null, error: (e as Error).message };
    }
    worker.postMessage(reply);
  };

  worker.on('message', (m: ToMain) => {
    if (m.type === 'pull') void answerPull(m);
    else deliver(m);
  });
  worker.on('error', (e: Error) => fail(e));
  worker.on('exit', (code) => {
    if (code !== 0) fail(new Error(`the thread reading the import stopped (exit ${code})`));
  });

  const asError = (m: Extract<ToMain, { type: 'error' }>): Error =>
    'kind' in m.error ? new AppError(m.error.kind, m.error.code, m.error.text, m.error.detail ? { detail: m.error.detail } : {}) : new Error(m.error.message);

  const opened = await next().catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  if (opened.type === 'error') {
    await worker.terminate();
    throw asError(opened);
  }
  if (opened.type !== 'opened') throw new Error('the import thread answered out of turn');
  let read = false;
  const reader: SheetReader = {
    date1904: opened.date1904,
    delimiter: null,
    async *rows(): AsyncGenerator<SheetRow> {
      if (read) throw new Error('the rows of this file were already read');
      read = true;
      try {
        for (;;) {
          worker.postMessage({ type: 'rows' } satisfies FromMain);
          const m = await next();
          if (m.type === 'error') throw asError(m);
          if (m.type !== 'batch') throw new Error('the import thread answered out of turn');
          reader.delimiter = m.delimiter;
          yield* m.rows;
          if (m.done) return;
        }
      } finally {
        await worker.terminate();
      }
    },
  };
  return reader;
}
