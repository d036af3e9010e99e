/**
 * A SoftHSM2 token of the test's own, in a temporary directory: the pkcs11
 * signer runs against it exactly as against a hardware token. SOFTHSM2_CONF
 * is set in this process's environment before any store opens the library
 * (SoftHSM reads it once, at C_Initialize), and passed to child processes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HSM_LEFT_OUT, SOFTHSM_MODULE, softHsmMissing } from './services.ts';

export { SOFTHSM_MODULE };

export interface TestToken {
  /** The environment of a Dosis with DOSIS_SIGNER=pkcs11 on this token. */
  env: Record<string, string>;
  module: string;
  token: string;
  pin: string;
  dir: string;
}

let made: TestToken | undefined;

/**
 * The skip of a pkcs11 suite: undefined when SoftHSM2 is here, the reason
 * when the user left it out (DOSIS_SKIP_HSM=1). Throws when it is missing
 * otherwise: nothing is skipped in silence (services.ts; CI installs it).
 */
export function softHsmProblem(): string | undefined {
  if (HSM_LEFT_OUT) return HSM_LEFT_OUT;
  const missing = softHsmMissing();
  if (missing) throw new Error(`${missing}; set DOSIS_SKIP_HSM=1 to leave the PKCS#11 tests out`);
  return undefined;
}

/** The token of this test process, initialised on first use. */
export function testToken(): TestToken {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'dosis-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  const token = 'dosis-test';
  const pin = '7314';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', token, '--so-pin', '0000', '--pin', pin], { env: process.env, stdio: 'pipe' });
  made = {
    env: { SOFTHSM2_CONF: conf, DOSIS_SIGNER: 'pkcs11', DOSIS_PKCS11_MODULE: SOFTHSM_MODULE, DOSIS_PKCS11_TOKEN: token, DOSIS_PKCS11_PIN: pin },
    module: SOFTHSM_MODULE,
    token,
    pin,
    dir,
  };
  return made;
}
