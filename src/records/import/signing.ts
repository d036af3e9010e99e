/**
 * A small pool of signing threads (sign-worker.ts) for bulk imports. Each
 * batch's certificates are split across the threads; the key is the one the
 * main Issuer signs with, re-sent whenever a rotation changes it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Db } from '../../db/client.ts';
import type { IssueInput, Issuer } from '../../certificates/issuer.ts';
import type { SignedCertificate } from '../record-dose.ts';
import type { KeyRef, KeyStoreSpec } from '../../certificates/key-store.ts';

/**
 * The active key as a worker receives it: the store to open (a pkcs11 thread
 * opens its own session on the token) and the key's reference — never the
 * key itself for a token; a sealed local key is unsealed in the thread.
 */
export interface WorkerKey {
  kid: string;
  store: KeyStoreSpec;
  ref: KeyRef;
  validUntil: string;
  validityDays: number;
  /** The secret of the SMS link tokens (linkTokenFor), made here too: an HMAC per certificate is not free either. */
  linkSecret: Uint8Array;
}

/** An IssueInput that crosses a thread boundary (the vaccine by code). */
export type SignRequest = Omit<IssueInput, 'vaccine' | 'issuedAt'> & { vaccine: string; issuedAt: string };

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (c: SignedCertificate[]) => void; reject: (e: Error) => void }>;
  ready: Promise<void>;
}

export class SigningPool {
  private readonly db: Db;
  private readonly issuer: Issuer;
  private readonly linkSecret: Buffer;
  private readonly size: number;
  private threads: Thread[] = [];
  private kid: string | undefined;
  private seq = 0;
  private closed = false;

  constructor(db: Db, issuer: Issuer, linkSecret: Buffer, size = Math.max(1, Math.min(4, availableParallelism()))) {
    this.db = db;
    this.issuer = issuer;
    this.linkSecret = linkSecret;
    this.size = size;
  }

  /**
   * Starts the threads and hands them the active key (again after a rotation).
   * Call it before opening the transaction that will sign: it reads the
   * database, and PGlite runs nothing else while a transaction is open.
   */
  async prepare(): Promise<void> {
    await this.ensureKey();
  }

  /** Signs like Issuer.issue, on the pool's threads; results in input order. No database access. */
  async sign(inputs: IssueInput[]): Promise<SignedCertificate[]> {
    if (inputs.length === 0) return [];
    if (this.closed) throw new Error('signing pool is closed');
    if (this.threads.length === 0 || this.kid === undefined) throw new Error('SigningPool.prepare() was not awaited');
    const per = Math.ceil(inputs.length / this.threads.length);
    const parts = this.threads
      .map((t, i) => ({ t, slice: inputs.slice(i * per, (i + 1) * per) }))
      .filter((p) => p.slice.length > 0)
      .map(({ t, slice }) => this.send(t, slice));
    return (await Promise.all(parts)).flat();
  }

  private send(t: Thread, inputs: IssueInput[]): Promise<SignedCertificate[]> {
    const id = ++this.seq;
    const requests: SignRequest[] = inputs.map((i) => ({ ...i, vaccine: i.vaccine.code, issuedAt: i.issuedAt.toISOString() }));
    return new Promise((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.ref();
      t.worker.postMessage({ type: 'sign', id, inputs: requests });
    });
  }

  /** Starts the threads, and gives them the active key whenever it changes. */
  private async ensureKey(): Promise<void> {
    if (this.closed) throw new Error('signing pool is closed');
    await this.issuer.ready();
    if (this.kid === this.issuer.kid && this.threads.length > 0) return;
    const active = this.issuer.keyRef;
    const key: WorkerKey = {
      kid: active.kid,
      store: this.issuer.keys.spec,
      ref: active.ref,
      validUntil: active.validUntil.toISOString(),
      validityDays: this.issuer.validityDays,
      linkSecret: new Uint8Array(this.linkSecret),
    };
    if (this.threads.length === 0) this.threads = Array.from({ length: this.size }, () => this.spawn());
    await Promise.all(this.threads.map((t) => t.ready));
    await Promise.all(
      this.threads.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            const onMsg = (m: { type: string; error?: string }) => {
              if (m.type === 'ready') {
                t.worker.off('message', onMsg);
                if (m.error !== undefined) reject(new Error(`signing thread: ${m.error}`));
                else resolve();
              }
            };
            t.worker.on('message', onMsg);
            t.worker.postMessage({ type: 'key', key });
          }),
      ),
    );
    this.kid = key.kid;
  }

  private spawn(): Thread {
    const worker = new Worker(new URL('./sign-worker.ts', import.meta.url));
    const t: Thread = { worker, pending: new Map(), ready: new Promise((r) => worker.once('online', () => r())) };
    worker.on('message', (m: { type: string; id: number; certs?: SignedCertificate[]; error?: string }) => {
      if (m.type !== 'signed') return;
      const p = t.pending.get(m.id);
      if (!p) return;
      t.pending.delete(m.id);
      if (t.pending.size === 0) worker.unref();
      if (m.error !== undefined || !m.certs) p.reject(new Error(`signing failed: ${m.error ?? 'no certificates'}`));
      else p.resolve(m.certs);
    });
    worker.on('error', (e: Error) => {
      for (const p of t.pending.values()) p.reject(e);
      t.pending.clear();
      // A dead thread is replaced on the next batch.
      this.threads = this.threads.filter((x) => x !== t);
      this.kid = undefined;
    });
    worker.unref();
    return t;
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads;
    this.threads = [];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
