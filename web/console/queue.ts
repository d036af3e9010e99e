/**
 * Doses entered on this device, kept in IndexedDB until the server has them
 * — the answer to "no internet at the puskesmas". Each entry gets its own
 * `Idempotency-Key` when it is entered and keeps it for every try, so a sync
 * cut off after the server recorded the dose but before the answer arrived
 * is sent again with the same key and answered with the first recording
 * (200), never recorded twice.
 *
 * States: `waiting` (to send) → `sent` (the server's answer, with the
 * certificate, is kept to show) or `rejected` (a 4xx: the reasons are kept
 * until the user fixes the entry — a new key, since nothing was recorded — or
 * discards it). A network failure, 5xx, 429 or a lost session leave the entry
 * waiting; sending starts again on the `online` event, on a timer, and after
 * signing in.
 */
import { ApiError, apiHeaders, reportUnauthorized, toApiError } from './api.ts';

export interface DoseBody {
  /** `nik`, or for someone without one `identifier` (a passport with its country, or the mother's NIK). */
  person: { nik?: string; identifier?: { type: string; value: string; country?: string }; name: string; birthDate: string; sex: string; phone?: string };
  vaccine: string;
  doseNumber: number;
  date: string;
  lot?: string;
  facility?: string;
}

/** The parts of `POST /api/v1/vaccinations`'s answer the console shows. */
export interface DoseAnswer {
  vaccination: { id: string; status: string; held?: 'identity_review'; doseNumber: number; date: string; vaccine: string };
  /** No id for a person the caller could not see before this dose (their data is not in the answer). */
  person: { id?: string; name: string };
  /** Null while the dose is held for a name that did not match the record. */
  certificate: { id: string; uvci: string; qr: string; link: string } | null;
  phoneChange?: { id: string; status: 'pending' };
  nextDose: { doseNumber: number; due: string; role: string } | null;
  warnings: { code?: string; message?: string }[];
}

export interface QueuedEntry {
  /** The Idempotency-Key, fixed for every try. */
  key: string;
  body: DoseBody;
  /** Who entered it (an entry is sent only in its author's session). */
  userId: string;
  createdAt: string;
  state: 'waiting' | 'sent' | 'rejected';
  attempts: number;
  lastTriedAt: string | null;
  answer: DoseAnswer | null;
  /** The server's reasons for a rejection. */
  error: { status: number; code: string; message: string; fields: { path: string; code?: string; message: string }[]; detail?: Record<string, unknown> } | null;
}

export interface QueueCounts {
  waiting: number;
  rejected: number;
  sent: number;
}

const DB_NAME = 'dosis-console';
const STORE = 'doses';
const RETRY_MS = 15_000;

let dbPromise: Promise<IDBDatabase> | undefined;
function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'));
  });
  return dbPromise;
}

async function tx<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(req ? req.result : undefined);
    t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/** Every entry on this device, oldest first. */
export async function listEntries(): Promise<QueuedEntry[]> {
  const all = ((await tx('readonly', (s) => s.getAll() as IDBRequest<QueuedEntry[]>)) ?? []);
  return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
}

async function put(entry: QueuedEntry): Promise<void> {
  await tx('readwrite', (s) => void s.put(entry));
}

const listeners = new Set<(c: QueueCounts) => void>();
let counts: QueueCounts = { waiting: 0, rejected: 0, sent: 0 };

/** The signed-in user: counts are of their entries (another user's wait for them to sign in). */
let currentUser: string | null = null;

async function changed(): Promise<void> {
  const all = (await listEntries()).filter((e) => currentUser === null || e.userId === currentUser);
  counts = {
    waiting: all.filter((e) => e.state === 'waiting').length,
    rejected: all.filter((e) => e.state === 'rejected').length,
    sent: all.filter((e) => e.state === 'sent').length,
  };
  for (const l of listeners) l(counts);
}

/** Follows the counts; called at once with the current ones. Returns the function that stops it. */
export function watchCounts(listener: (c: QueueCounts) => void): () => void {
  listeners.add(listener);
  listener(counts);
  void changed();
  return () => listeners.delete(listener);
}

function newKey(): string {
  return `console-${crypto.randomUUID()}`;
}

/** Keeps a dose on the device, to be sent now or when the network returns. */
export async function enqueue(body: DoseBody, userId: string): Promise<QueuedEntry> {
  const entry: QueuedEntry = { key: newKey(), body, userId, createdAt: new Date().toISOString(), state: 'waiting', attempts: 0, lastTriedAt: null, answer: null, error: null };
  await put(entry);
  await changed();
  return entry;
}

/** A rejected entry, corrected: waiting again under a new key (the server recorded nothing under the old one). */
export async function replaceEntry(key: string, body: DoseBody): Promise<QueuedEntry | null> {
  const old = (await listEntries()).find((e) => e.key === key);
  if (!old) return null;
  const entry: QueuedEntry = { ...old, key: newKey(), body, state: 'waiting', error: null, attempts: 0, lastTriedAt: null };
  await tx('readwrite', (s) => {
    s.delete(key);
    s.put(entry);
  });
  await changed();
  return entry;
}

/** Removes an entry (a rejected one the user gives up, or a sent one already seen). */
export async function discard(key: string): Promise<void> {
  await tx('readwrite', (s) => void s.delete(key));
  await changed();
}

/** Removes every sent entry. */
export async function clearSent(): Promise<void> {
  const sent = (await listEntries()).filter((e) => e.state === 'sent');
  await tx('readwrite', (s) => {
    for (const e of sent) s.delete(e.key);
  });
  await changed();
}

export type SendOutcome = { kind: 'sent'; answer: DoseAnswer } | { kind: 'rejected'; error: ApiError } | { kind: 'later'; why: 'network' | 'server' | 'session' };

/** One try at sending a dose with its key; never throws. */
export async function sendDose(body: DoseBody, key: string): Promise<SendOutcome> {
  const path = '/api/v1/vaccinations';
  let r: Response;
  try {
    r = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: apiHeaders('POST', { 'content-type': 'application/json', 'idempotency-key': key }),
      body: JSON.stringify(body),
    });
  } catch {
    return { kind: 'later', why: 'network' };
  }
  if (r.ok) {
    try {
      return { kind: 'sent', answer: (await r.json()) as DoseAnswer };
    } catch {
      // The answer was cut off: the dose may be recorded; the same key will tell.
      return { kind: 'later', why: 'network' };
    }
  }
  if (r.status === 401 || r.status === 403) {
    const e = await toApiError(r);
    // A lost session (or a CSRF token from before a new sign-in) is not the entry's fault: keep it.
    if (r.status === 401 || e.code === 'csrf') {
      reportUnauthorized(path, r.status);
      return { kind: 'later', why: 'session' };
    }
    return { kind: 'rejected', error: e };
  }
  if (r.status === 408 || r.status === 429 || r.status >= 500) return { kind: 'later', why: 'server' };
  return { kind: 'rejected', error: await toApiError(r) };
}

let running: Promise<QueueCounts> | null = null;

/**
 * Sends every waiting entry of `userId`, oldest first, one at a time; stops
 * at the first failure that is not the entry's own (network, server,
 * session). One sync at a time: a call while one runs joins it.
 */
export function syncNow(userId: string): Promise<QueueCounts> {
  // The browser knows it has no network: no try (and no try counted).
  if (!navigator.onLine) return changed().then(() => counts);
  running ??= (async () => {
    try {
      for (const entry of await listEntries()) {
        if (entry.state !== 'waiting' || entry.userId !== userId) continue;
        const outcome = await sendDose(entry.body, entry.key);
        const tried = { ...entry, attempts: entry.attempts + 1, lastTriedAt: new Date().toISOString() };
        if (outcome.kind === 'later') {
          await put(tried);
          break;
        }
        if (outcome.kind === 'sent') await put({ ...tried, state: 'sent', answer: outcome.answer, error: null });
        else
          await put({
            ...tried,
            state: 'rejected',
            error: {
              status: outcome.error.status,
              code: outcome.error.code,
              message: outcome.error.message,
              fields: outcome.error.fields.map((f) => ({ path: f.path, code: f.code, message: f.message })),
              ...(outcome.error.detail ? { detail: outcome.error.detail } : {}),
            },
          });
        await changed();
      }
    } finally {
      running = null;
      await changed();
    }
    return counts;
  })();
  return running;
}

/** Sent entries (names, NIKs) do not stay on a shared device longer than this. */
const KEEP_SENT_MS = 24 * 60 * 60_000;

async function pruneSent(): Promise<void> {
  const old = (await listEntries()).filter((e) => e.state === 'sent' && Date.now() - Date.parse(e.lastTriedAt ?? e.createdAt) > KEEP_SENT_MS);
  if (old.length === 0) return;
  await tx('readwrite', (s) => {
    for (const e of old) s.delete(e.key);
  });
  await changed();
}

let timer: ReturnType<typeof setInterval> | undefined;
let onlineHandler: (() => void) | undefined;

/** Sends waiting entries when the network returns and every RETRY_MS while any wait; stop with the returned function. */
export function startAutoSync(userId: string): () => void {
  currentUser = userId;
  void pruneSent();
  const go = (): void => {
    if (counts.waiting > 0 && navigator.onLine) void syncNow(userId);
  };
  if (onlineHandler) removeEventListener('online', onlineHandler);
  onlineHandler = () => void syncNow(userId);
  addEventListener('online', onlineHandler);
  clearInterval(timer);
  timer = setInterval(go, RETRY_MS);
  void changed().then(() => (navigator.onLine ? syncNow(userId) : counts));
  return () => {
    clearInterval(timer);
    if (onlineHandler) removeEventListener('online', onlineHandler);
    onlineHandler = undefined;
  };
}
