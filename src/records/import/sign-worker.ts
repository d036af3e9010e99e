/**
 * A signing thread for bulk imports: the same Issuer as the dose transaction,
 * given the active key by the main thread instead of reading the database.
 * Signing is the CPU-heavy part of recording (~0.1 ms per certificate); doing
 * it here keeps the event loop that answers single entries free.
 */
import { parentPort } from 'node:worker_threads';
import type { Db } from '../../db/client.ts';
import { Issuer } from '../../certificates/issuer.ts';
import { openKeyStore, type KeyStore, type KeyStoreSpec } from '../../certificates/key-store.ts';
import { vaccineByCode } from '../../domain/vaccines.ts';
import { hashLinkToken, linkTokenFor } from '../../access/links.ts';
import { storedHc1 } from '../../certificates/hc1.ts';
import type { SignRequest, WorkerKey } from './signing.ts';

let issuer: Issuer | undefined;
let linkSecret: Buffer | undefined;
let store: { spec: string; keys: KeyStore } | undefined;

/** A database that knows only the active key: all that Issuer.ready() asks for. */
function keyOnlyDb(key: WorkerKey): Db {
  const row = { kid: key.kid, key_ref: key.ref, valid_until: new Date(key.validUntil) };
  return { query: async () => ({ rows: [row], rowCount: 1 }) } as unknown as Db;
}

/** The thread's own store (its own PKCS#11 session), opened once and again only if the spec changes. */
function storeFor(spec: KeyStoreSpec): KeyStore {
  const id = JSON.stringify({ ...spec, ...(spec.kind === 'local' ? { kek: Buffer.from(spec.kek).toString('hex') } : {}) });
  if (store?.spec !== id) {
    store?.keys.close();
    store = { spec: id, keys: openKeyStore(spec) };
  }
  return store.keys;
}

const port = parentPort;
if (!port) throw new Error('sign-worker.ts runs as a worker thread');

port.on('message', (msg: { type: 'key'; key: WorkerKey } | { type: 'sign'; id: number; inputs: SignRequest[] }) => {
  void (async () => {
    if (msg.type === 'key') {
      try {
        issuer = await new Issuer(keyOnlyDb(msg.key), msg.key.validityDays, { store: storeFor(msg.key.store), cscaDir: undefined }).ready();
        linkSecret = Buffer.from(msg.key.linkSecret);
        port.postMessage({ type: 'ready', kid: issuer.kid });
      } catch (e) {
        // A token this thread cannot open: the main thread fails the batch with the reason.
        port.postMessage({ type: 'ready', error: (e as Error).message });
      }
      return;
    }
    try {
      if (!issuer || !linkSecret) throw new Error('no signing key yet');
      const [signer, secret] = [issuer, linkSecret];
      const certs = msg.inputs.map((i) => {
        const c = signer.issue({ ...i, vaccine: vaccineByCode(i.vaccine), issuedAt: new Date(i.issuedAt) });
        const linkToken = linkTokenFor(secret, c.id);
        // What the write stores, computed here rather than on the main thread (SignedCertificate).
        return { ...c, linkToken, hc1: storedHc1(c.qr).toString('base64'), linkHash: hashLinkToken(linkToken).toString('hex') };
      });
      port.postMessage({ type: 'signed', id: msg.id, certs });
    } catch (e) {
      port.postMessage({ type: 'signed', id: msg.id, error: (e as Error).message });
    }
  })();
});
