/**
 * `dosis keys …`: the country signing CA kept offline, document signer keys
 * made where they will stay (a PKCS#11 token, or sealed locally), and
 * rotation. Two machines take part:
 *
 *   offline CSCA machine                     online Dosis
 *   dosis keys csca init --out DIR
 *                                            dosis keys request > dsc.csr
 *   dosis keys sign-request dsc.csr --csca DIR > dsc.pem
 *                                            dosis keys install dsc.pem --csca csca.pem
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { openDb } from '../db/open.ts';
import { AppError } from '../domain/errors.ts';
import { cscaOnToken, fromPem, initCscaDir, readCscaDir, toPem } from './csca.ts';
import { installSigningKey, openSigningSetup, requestSigningKey, rotateSigningKey, type SigningSetup } from './issuer.ts';
import { KeyStoreError, openKeyStore, resolveKeyStoreSpec, type KeyStore } from './key-store.ts';
import { signCertificateRequest } from './keys.ts';

export const KEYS_HELP = `dosis keys — signing keys: the CSCA kept offline, document signers on a token or sealed

Usage:
  dosis keys csca init --out DIR [--name CN] [--country ID] [--days 3650]
      (on the offline CSCA machine) make a country signing CA: DIR/csca.pem
      (public: give it to the online system) and DIR/csca.key (mode 0600); with
      DOSIS_SIGNER=pkcs11 the key is made on that token instead, and
      DIR/csca.ref names it (sign-request then uses the token).
  dosis keys request [--out FILE]
      make a new document signer key where DOSIS_SIGNER keeps keys (on the
      PKCS#11 token, or sealed under the key-encryption key) and print its
      certificate request (PEM). The key does not sign until installed.
  dosis keys sign-request CSR --csca DIR [--days 730] [--out FILE]
      (on the CSCA machine) sign a request: the DSC gets the EU DCC key usage
      for vaccination certificates (1.3.6.1.4.1.1847.2021.1.2), its validity
      cut to the CSCA's. Prints the DSC (PEM).
  dosis keys install DSC [--csca CSCA_PEM]
      check that the DSC chains to the CSCA (publishing CSCA_PEM first when
      given) and is for a pending request's key, then sign with it; the
      previous key stops signing and stays in the trust list.
  dosis keys rotate
      request, sign and install in one go with the CSCA in DOSIS_CSCA_DIR
      (the embedded default keeps one beside the data directory); refused
      when the CSCA is offline (DOSIS_CSCA_DIR=offline).

Where keys are (environment):
  DOSIS_SIGNER              local (default) or pkcs11
  DOSIS_KEY_ENCRYPTION_KEY  local: 32-byte key (64 hex digits) sealing keys in the database;
  DOSIS_KEY_FILE            or this file (default <DOSIS_DATA_DIR>.key, made on first start, 0600)
  DOSIS_PKCS11_MODULE       pkcs11: the library (default /usr/lib/softhsm/libsofthsm2.so)
  DOSIS_PKCS11_TOKEN        pkcs11: the token label
  DOSIS_PKCS11_PIN          pkcs11: the user PIN, or DOSIS_PKCS11_PIN_FILE
  DOSIS_CSCA_DIR            a CSCA directory this process may use (default <DOSIS_DATA_DIR>.csca), or offline
No private key is ever written to the database.`;

async function withSetup<T>(config: Config, fn: (db: Awaited<ReturnType<typeof openDb>>, setup: SigningSetup) => Promise<T>): Promise<T> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  let setup: SigningSetup | undefined;
  try {
    await migrate(db);
    setup = await openSigningSetup(db, config);
    return await fn(db, setup);
  } finally {
    await db.close();
    setup?.store.close();
  }
}

/** Runs `fn` with the PKCS#11 store when `wanted` and DOSIS_SIGNER=pkcs11 (the CSCA's key on the offline machine's token). */
async function withToken<T>(config: Config, wanted: boolean, fn: (token: KeyStore | undefined) => Promise<T>): Promise<T> {
  if (!wanted || config.signer.kind !== 'pkcs11') return fn(undefined);
  const token = openKeyStore(resolveKeyStoreSpec(config.signer, false));
  try {
    return await fn(token);
  } finally {
    token.close();
  }
}

function output(text: string, out: string | undefined): void {
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}

function readDer(path: string, label: string): Uint8Array {
  const der = fromPem(readFileSync(path, 'utf8'), label);
  if (!der) throw new KeyStoreError(`${path} holds no ${label}`);
  return der;
}

/** Runs `dosis keys …`; returns the exit code. */
export async function keysCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      csca: { type: 'string' },
      name: { type: 'string' },
      country: { type: 'string' },
      days: { type: 'string' },
    },
    allowPositionals: true,
  });
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days > 0 && days <= 10_000)) {
    console.error('--days must be a whole number of days');
    return 2;
  }
  const [sub, arg, more] = positionals;
  try {
    if (sub === 'csca' && arg === 'init') {
      if (!values.out) throw new KeyStoreError('--out DIR is required');
      const out = values.out;
      const csca = await withToken(config, true, (token) => initCscaDir(out, { commonName: values.name, country: values.country, days, ...(token ? { token } : {}) }));
      console.error(
        `CSCA made in ${values.out}: csca.pem (public, valid ${csca.validFrom.toISOString()} – ${csca.validUntil.toISOString()}), ` +
          (config.signer.kind === 'pkcs11' ? `its key on the token "${config.signer.token}" (csca.ref names it).` : 'csca.key (keep it offline).'),
      );
      return 0;
    }
    if (sub === 'request' && arg === undefined) {
      const r = await withSetup(config, (db, setup) => requestSigningKey(db, setup.store));
      output(toPem('CERTIFICATE REQUEST', r.csr), values.out);
      console.error(`Key request ${r.id}: the key is in the ${config.signer.kind} store; have the CSCA sign the request (dosis keys sign-request), then dosis keys install.`);
      return 0;
    }
    if (sub === 'sign-request' && arg !== undefined && more === undefined) {
      if (!values.csca) throw new KeyStoreError('--csca DIR (the directory of csca init) is required');
      const dir = values.csca;
      const now = new Date();
      const dsc = await withToken(config, cscaOnToken(dir), async (token) => {
        const csca = readCscaDir(dir, token);
        if (!csca) throw new KeyStoreError(`${dir} holds no CSCA (${join(dir, 'csca.pem')}, csca.key or csca.ref)`);
        return signCertificateRequest({
          csrDer: readDer(arg, 'CERTIFICATE REQUEST'),
          csca,
          validFrom: new Date(now.getTime() - 60_000),
          validUntil: new Date(now.getTime() + (days ?? 730) * 86_400_000),
        });
      });
      output(toPem('CERTIFICATE', dsc), values.out);
      return 0;
    }
    if (sub === 'install' && arg !== undefined && more === undefined) {
      const dsc = readDer(arg, 'CERTIFICATE');
      const csca = values.csca ? readDer(values.csca, 'CERTIFICATE') : undefined;
      const r = await withSetup(config, (db, setup) => installSigningKey(db, setup.store, dsc, csca ? { csca } : {}));
      console.log(`Signing with ${r.kid}; retired from signing (still trusted): ${r.retired.join(', ') || 'none'}`);
      return 0;
    }
    if (sub === 'rotate' && arg === undefined) {
      const r = await withSetup(config, (db, setup) => rotateSigningKey(db, setup));
      console.log(`New signing key ${r.kid}; retired from signing (still trusted): ${r.retired.join(', ') || 'none'}`);
      return 0;
    }
  } catch (e) {
    if (e instanceof KeyStoreError || e instanceof AppError) {
      console.error(`dosis keys: ${e.message}${e instanceof AppError && e.fields.length ? ` ${JSON.stringify(e.fields)}` : ''}`);
      return 1;
    }
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /already holds a CSCA/.test((e as Error).message)) {
      console.error(`dosis keys: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
  console.error(KEYS_HELP);
  return 2;
}
