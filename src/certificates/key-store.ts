/**
 * Where Dosis's private signing keys live, and the one way to sign with them.
 *
 * Two stores, chosen by DOSIS_SIGNER:
 * - `local` (the embedded default): a P-256 key made by node:crypto, kept in
 *   the database only sealed with AES-256-GCM under a key-encryption key (KEK)
 *   that the database never sees (DOSIS_KEY_ENCRYPTION_KEY, or a key file
 *   beside the data directory, mode 0600). A dump, a backup, a replica or one
 *   SQL injection yields ciphertext.
 * - `pkcs11`: the key is generated on a PKCS#11 token (an HSM; SoftHSM2 in the
 *   tests) with CKA_SENSITIVE and not CKA_EXTRACTABLE, so it never leaves the
 *   token; the database holds the token's label and the key's CKA_ID.
 *
 * Signing is synchronous on purpose: the record path signs inside its group
 * commit, and a token's C_Sign through pkcs11js takes ~0.1 ms in-process.
 * Signatures are raw r‖s (64 bytes), as COSE and JWS want: node:crypto's DER
 * is unpacked (keys.ts); CKM_ECDSA already answers r‖s (PKCS#11 §2.3.1).
 *
 * A store can be re-opened from its `spec` in a worker thread (the import's
 * signing threads): a pkcs11 thread opens its own session on the same token.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as Pkcs11Module from 'pkcs11js';
import { signEs256, type Es256Signer } from './keys.ts';

/** Where a stored key is: what the database keeps instead of a private key. */
export type KeyRef =
  /** `sealed`: base64 of iv (12) ‖ ciphertext ‖ GCM tag (16) of the PKCS#8 DER. */
  | { store: 'local'; sealed: string }
  /** The key object on the token whose label is `token`, found by CKA_ID (hex). */
  | { store: 'pkcs11'; token: string; id: string; label: string };

/** What opens a store; crosses to worker threads by structured clone. Holds secrets: never log it. */
export type KeyStoreSpec =
  | { kind: 'local'; kek: Uint8Array }
  | { kind: 'pkcs11'; module: string; token: string; pin: string };

export interface GeneratedKey {
  ref: KeyRef;
  /** The public key (SPKI), for the certificate request. */
  publicKey: KeyObject;
  signer: Es256Signer;
}

export interface KeyStore {
  readonly kind: KeyStoreSpec['kind'];
  /** How to open this store again elsewhere (worker threads). */
  readonly spec: KeyStoreSpec;
  /** A new P-256 signing key, in the store. `label` names it on a token. */
  generate(label: string): GeneratedKey;
  /** A signer for a stored key; throws KeyStoreError when the store cannot open it. */
  open(ref: KeyRef): Es256Signer;
  /** True when `ref` belongs to this store (same kind, same token). */
  holds(ref: KeyRef): boolean;
  close(): void;
}

/** A key that cannot be opened: wrong KEK, missing token or object. The message names what to fix. */
export class KeyStoreError extends Error {
  override name = 'KeyStoreError';
}

/** Opens the store a spec names. */
export function openKeyStore(spec: KeyStoreSpec): KeyStore {
  return spec.kind === 'local' ? new LocalKeyStore(spec.kek) : new Pkcs11KeyStore(spec);
}

/** Parses a stored key reference (jsonb), refusing anything else. */
export function parseKeyRef(v: unknown): KeyRef {
  const o = (typeof v === 'string' ? JSON.parse(v) : v) as Partial<Record<string, unknown>> | null;
  if (o && o.store === 'local' && typeof o.sealed === 'string') return { store: 'local', sealed: o.sealed };
  if (o && o.store === 'pkcs11' && typeof o.token === 'string' && typeof o.id === 'string' && typeof o.label === 'string') {
    return { store: 'pkcs11', token: o.token, id: o.id, label: o.label };
  }
  throw new KeyStoreError('a stored key reference is neither a sealed local key nor a PKCS#11 reference');
}

// ---------------------------------------------------------------- local

/** Additional data bound into every seal: a ciphertext from elsewhere does not open as a Dosis key. */
const SEAL_AAD = Buffer.from('dosis signing key v1', 'ascii');

/** AES-256-GCM of `plain` under `kek`: iv ‖ ciphertext ‖ tag. */
export function seal(kek: Uint8Array, plain: Uint8Array): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(SEAL_AAD);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

/** Opens what `seal` made; throws KeyStoreError when the KEK is not the one that sealed it. */
export function unseal(kek: Uint8Array, sealed: Uint8Array): Buffer {
  const buf = Buffer.from(sealed);
  if (buf.length < 12 + 16 + 1) throw new KeyStoreError('a sealed key is too short');
  const d = createDecipheriv('aes-256-gcm', kek, buf.subarray(0, 12));
  d.setAAD(SEAL_AAD);
  d.setAuthTag(buf.subarray(buf.length - 16));
  try {
    return Buffer.concat([d.update(buf.subarray(12, buf.length - 16)), d.final()]);
  } catch {
    throw new KeyStoreError(
      'the key-encryption key does not open the signing keys in the database (DOSIS_KEY_ENCRYPTION_KEY or the key file is not the one they were sealed with)',
    );
  }
}

/** A short fingerprint of a KEK, safe to show (which key file is this?). */
export function kekFingerprint(kek: Uint8Array): string {
  return createHash('sha256').update('dosis kek').update(kek).digest('hex').slice(0, 16);
}

class LocalKeyStore implements KeyStore {
  readonly kind = 'local';
  readonly spec: KeyStoreSpec;
  private readonly kek: Uint8Array;
  private readonly opened = new Map<string, Es256Signer>();

  constructor(kek: Uint8Array) {
    if (kek.length !== 32) throw new KeyStoreError('the key-encryption key must be 32 bytes (AES-256)');
    this.kek = kek;
    this.spec = { kind: 'local', kek };
  }

  generate(): GeneratedKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sealed = seal(this.kek, privateKey.export({ format: 'der', type: 'pkcs8' })).toString('base64');
    const ref: KeyRef = { store: 'local', sealed };
    const signer = localSigner(privateKey);
    this.opened.set(sealed, signer);
    return { ref, publicKey, signer };
  }

  open(ref: KeyRef): Es256Signer {
    if (ref.store !== 'local') throw new KeyStoreError(`this key is on the PKCS#11 token "${ref.token}", but DOSIS_SIGNER is local`);
    let signer = this.opened.get(ref.sealed);
    if (!signer) {
      const pkcs8 = unseal(this.kek, Buffer.from(ref.sealed, 'base64'));
      signer = localSigner(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
      pkcs8.fill(0);
      this.opened.set(ref.sealed, signer);
    }
    return signer;
  }

  holds(ref: KeyRef): boolean {
    return ref.store === 'local';
  }

  close(): void {
    this.opened.clear();
  }
}

function localSigner(privateKey: KeyObject): Es256Signer {
  return { sign: (data) => signEs256(data, privateKey) };
}

// ---------------------------------------------------------------- PKCS#11

type Pkcs11 = typeof Pkcs11Module;

let pkcs11Module: Pkcs11 | undefined;
/** pkcs11js is a native addon: loaded only when a pkcs11 store is opened. */
function pkcs11js(): Pkcs11 {
  pkcs11Module ??= createRequire(import.meta.url)('pkcs11js') as Pkcs11;
  return pkcs11Module;
}

/** DER of the P-256 curve OID (1.2.840.10045.3.1.7), the CKA_EC_PARAMS of a P-256 key. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
/** The SPKI of a P-256 key, less the 65-byte uncompressed point that ends it. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

class Pkcs11KeyStore implements KeyStore {
  readonly kind = 'pkcs11';
  readonly spec: KeyStoreSpec & { kind: 'pkcs11' };
  private readonly p11: Pkcs11Module.PKCS11;
  private readonly session: Buffer;
  private readonly handles = new Map<string, Buffer>();
  private readonly signers = new Map<string, Es256Signer>();
  private closed = false;

  constructor(spec: KeyStoreSpec & { kind: 'pkcs11' }) {
    this.spec = spec;
    const m = pkcs11js();
    const p11 = new m.PKCS11();
    try {
      p11.load(spec.module);
    } catch (e) {
      throw new KeyStoreError(`DOSIS_PKCS11_MODULE: cannot load ${spec.module} (${(e as Error).message})`);
    }
    // Several threads of one process use the library (the import's signing threads): OS locking, and
    // "already initialized" from the second one is expected.
    try {
      p11.C_Initialize({ flags: m.CKF_OS_LOCKING_OK });
    } catch (e) {
      if (!(e instanceof m.Pkcs11Error && e.code === m.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw e;
    }
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === spec.token);
    if (!slot) throw new KeyStoreError(`DOSIS_PKCS11_TOKEN: no token labelled "${spec.token}" in ${spec.module}`);
    this.p11 = p11;
    this.session = p11.C_OpenSession(slot, m.CKF_SERIAL_SESSION | m.CKF_RW_SESSION);
    try {
      p11.C_Login(this.session, m.CKU_USER, spec.pin);
    } catch (e) {
      // Login is per application: another thread of this process may have logged in already.
      if (!(e instanceof m.Pkcs11Error && e.code === m.CKR_USER_ALREADY_LOGGED_IN)) {
        throw new KeyStoreError(`DOSIS_PKCS11_PIN: cannot log in to the token "${spec.token}" (${(e as Error).message})`);
      }
    }
  }

  generate(label: string): GeneratedKey {
    const m = pkcs11js();
    const id = randomBytes(16);
    const common = [
      { type: m.CKA_TOKEN, value: true },
      { type: m.CKA_ID, value: id },
      { type: m.CKA_LABEL, value: label },
    ];
    const pair = this.p11.C_GenerateKeyPair(
      this.session,
      { mechanism: m.CKM_EC_KEY_PAIR_GEN },
      [...common, { type: m.CKA_KEY_TYPE, value: m.CKK_EC }, { type: m.CKA_EC_PARAMS, value: P256_PARAMS }, { type: m.CKA_VERIFY, value: true }],
      [
        ...common,
        { type: m.CKA_KEY_TYPE, value: m.CKK_EC },
        { type: m.CKA_PRIVATE, value: true },
        { type: m.CKA_SIGN, value: true },
        // The point of a token: the private key cannot be read out, not even wrapped.
        { type: m.CKA_SENSITIVE, value: true },
        { type: m.CKA_EXTRACTABLE, value: false },
      ],
    );
    const ref: KeyRef = { store: 'pkcs11', token: this.spec.token, id: id.toString('hex'), label };
    return { ref, publicKey: this.publicKeyOf(pair.publicKey), signer: this.open(ref) };
  }

  open(ref: KeyRef): Es256Signer {
    if (ref.store !== 'pkcs11') throw new KeyStoreError('this key is sealed for the local signer, but DOSIS_SIGNER is pkcs11');
    if (ref.token !== this.spec.token) throw new KeyStoreError(`this key is on the token "${ref.token}", but DOSIS_PKCS11_TOKEN is "${this.spec.token}"`);
    let signer = this.signers.get(ref.id);
    if (!signer) {
      const handle = this.findPrivateKey(ref);
      const m = pkcs11js();
      const out = Buffer.alloc(64);
      const mech = { mechanism: m.CKM_ECDSA };
      signer = {
        sign: (data) => {
          if (this.closed) throw new KeyStoreError('the PKCS#11 session is closed');
          // CKM_ECDSA signs a hash given to it (the token hashes nothing): SHA-256 here, r‖s back.
          this.p11.C_SignInit(this.session, mech, handle);
          return Buffer.from(this.p11.C_Sign(this.session, createHash('sha256').update(data).digest(), out));
        },
      };
      this.signers.set(ref.id, signer);
    }
    return signer;
  }

  holds(ref: KeyRef): boolean {
    return ref.store === 'pkcs11' && ref.token === this.spec.token;
  }

  /** The public key of a stored key (from its public key object), as node:crypto sees it. */
  publicKeyFor(ref: KeyRef & { store: 'pkcs11' }): KeyObject {
    return this.publicKeyOf(this.find(ref, pkcs11js().CKO_PUBLIC_KEY));
  }

  /**
   * The handle that signs: a session copy of the token key when the token
   * allows it (C_CopyObject with CKA_TOKEN = false). The copy lives inside
   * the token, keeps CKA_SENSITIVE and non-extractability, and ends with the
   * session; it exists because SoftHSM re-reads a token object's file (open,
   * lock, read, close) on every use, which cost a third of each signature's
   * CPU here (~45 → ~30 µs; a local key: ~21 µs). A token that refuses the
   * copy (CKA_COPYABLE = false) signs with the token object itself.
   */
  private findPrivateKey(ref: KeyRef & { store: 'pkcs11' }): Buffer {
    let h = this.handles.get(ref.id);
    if (!h) {
      const onToken = this.find(ref, pkcs11js().CKO_PRIVATE_KEY);
      try {
        h = this.p11.C_CopyObject(this.session, onToken, [{ type: pkcs11js().CKA_TOKEN, value: false }]);
      } catch {
        h = onToken;
      }
      this.handles.set(ref.id, h);
    }
    return h;
  }

  private find(ref: KeyRef & { store: 'pkcs11' }, cls: number): Buffer {
    const m = pkcs11js();
    this.p11.C_FindObjectsInit(this.session, [
      { type: m.CKA_CLASS, value: cls },
      { type: m.CKA_ID, value: Buffer.from(ref.id, 'hex') },
      // Only the object on the token: session copies (findPrivateKey) of other threads are visible here too.
      { type: m.CKA_TOKEN, value: true },
    ]);
    try {
      const found = this.p11.C_FindObjects(this.session, 2);
      if (found.length !== 1) {
        throw new KeyStoreError(`the token "${ref.token}" has ${found.length === 0 ? 'no' : 'more than one'} key with id ${ref.id} ("${ref.label}")`);
      }
      return found[0]!;
    } finally {
      this.p11.C_FindObjectsFinal(this.session);
    }
  }

  private publicKeyOf(handle: Buffer): KeyObject {
    const m = pkcs11js();
    const [attr] = this.p11.C_GetAttributeValue(this.session, handle, [{ type: m.CKA_EC_POINT }]);
    // CKA_EC_POINT is the DER OCTET STRING around the uncompressed point (04 ‖ x ‖ y).
    const v = attr?.value ?? Buffer.alloc(0);
    const point = v.length === 67 && v[0] === 0x04 && v[1] === 65 ? v.subarray(2) : v;
    if (point.length !== 65 || point[0] !== 0x04) throw new KeyStoreError('the token returned a public key that is not an uncompressed P-256 point');
    return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, point]), format: 'der', type: 'spki' });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.p11.C_CloseSession(this.session);
    } catch {
      // Closing is best effort: the process is ending or the token went away.
    }
    // No C_Finalize: other threads of this process may still use the library.
  }
}

// ---------------------------------------------------------------- configuration

/** How the store is configured (Config.signer), before any secret is read. */
export type SignerConfig =
  | {
      kind: 'local';
      /** DOSIS_KEY_ENCRYPTION_KEY, decoded; undefined: the key file. */
      kek: Uint8Array | undefined;
      /** DOSIS_KEY_FILE, default `<DOSIS_DATA_DIR>.key`: made on first start when no key exists yet. */
      keyFile: string;
    }
  | { kind: 'pkcs11'; module: string; token: string; pin: string | undefined; pinFile: string | undefined };

/** Decodes DOSIS_KEY_ENCRYPTION_KEY: 32 bytes as 64 hex digits or base64. Undefined when it is neither. */
export function decodeKek(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length === 32) return new Uint8Array(b);
  }
  return undefined;
}

/**
 * The store's spec: reads the PIN file or the key file. With `mayCreate`
 * (the database holds no key of ours yet) a missing key file is created,
 * mode 0600; otherwise its absence is an error naming what is missing.
 */
export function resolveKeyStoreSpec(c: SignerConfig, mayCreate: boolean): KeyStoreSpec {
  if (c.kind === 'pkcs11') {
    let pin = c.pin;
    if (pin === undefined && c.pinFile !== undefined) {
      try {
        pin = readFileSync(c.pinFile, 'utf8').trim();
      } catch (e) {
        throw new KeyStoreError(`DOSIS_PKCS11_PIN_FILE: cannot read ${c.pinFile} (${(e as Error).message})`);
      }
    }
    if (!pin) throw new KeyStoreError('DOSIS_SIGNER=pkcs11 needs the token PIN: set DOSIS_PKCS11_PIN or DOSIS_PKCS11_PIN_FILE');
    return { kind: 'pkcs11', module: c.module, token: c.token, pin };
  }
  if (c.kek) return { kind: 'local', kek: c.kek };
  if (existsSync(c.keyFile)) {
    const kek = decodeKek(readFileSync(c.keyFile, 'utf8'));
    if (!kek) throw new KeyStoreError(`the key file ${c.keyFile} does not hold a 32-byte key (64 hex digits or base64)`);
    return { kind: 'local', kek };
  }
  if (!mayCreate) {
    throw new KeyStoreError(
      `the signing keys in the database are sealed with a key-encryption key, and it is missing: set DOSIS_KEY_ENCRYPTION_KEY, or put back the key file ${c.keyFile} (DOSIS_KEY_FILE) that was made on the first start`,
    );
  }
  const kek = randomBytes(32);
  mkdirSync(dirname(c.keyFile), { recursive: true });
  // Written whole to a temporary file, then linked into place: two processes starting at once keep
  // one key, and neither reads a half-written file.
  const tmp = `${c.keyFile}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, kek.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, c.keyFile);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return resolveKeyStoreSpec(c, false);
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  return { kind: 'local', kek: new Uint8Array(kek) };
}
