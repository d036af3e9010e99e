/**
 * EU DCC conformance: every case of the EU test corpus (test/conformance/
 * eu-dcc/testdata) run step by step through our own code, scored as
 * test/conformance/README.md says; then certificates we issue ourselves,
 * valid and tampered, written in the corpus format and run through the same
 * runner.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  STEPS,
  compareValidators,
  listCaseFiles,
  loadKnownIssues,
  mustMatch,
  readCase,
  runCase,
  schemaLoader,
  type Step,
  type StepResult,
  type TestCase,
} from './conformance-runner.ts';
import { generateSigningKey, importPrivateKey, kidBytesOf } from '../../src/certificates/keys.ts';
import { buildVaccinationPayload } from '../../src/certificates/dcc.ts';
import { encodeHc1, verifyHc1, type ReasonCode } from '../../src/certificates/hc1.ts';
import { base45Decode, base45Encode } from '../../src/certificates/base45.ts';
import { decodeCoseSign1 } from '../../src/certificates/cose.ts';
import { makeUvci } from '../../src/certificates/uvci.ts';
import { inflateSync, deflateSync } from 'node:zlib';
import type { Json } from '../../src/certificates/cbor.ts';

const CORPUS = resolve(import.meta.dirname, '../conformance/eu-dcc');
const TESTDATA = join(CORPUS, 'testdata');
const SCHEMAS = join(CORPUS, 'schema');

/** Wrong in the corpus itself (test/conformance/README.md). */
const EXCLUDED = new Set(['PL/1.3.0/2DCode/raw/1.json', 'PL/1.3.0/2DCode/raw/5.json', 'PL/1.3.0/2DCode/raw/6.json']);


test('EU DCC test corpus: every scored step of every case matches', async (t) => {
  const files = listCaseFiles(TESTDATA);
  const knownIssue = loadKnownIssues(TESTDATA);
  const schemaFor = schemaLoader(SCHEMAS);
  const disagreements: string[] = [];
  let validatorComparisons = 0;
  const mismatches: string[] = [];
  /** Known issue (step + reason) → files where it fails as expected. */
  const expectedFailures = new Map<string, string[]>();
  let knownIssuesMatching = 0;
  const stepTally = new Map<Step, { run: number; matched: number; ms: number }>(
    STEPS.map((s) => [s, { run: 0, matched: 0, ms: 0 }]),
  );
  let passed = 0;
  let failed = 0;
  const startedAll = performance.now();

  const excludedReport: string[] = [];
  for (const rel of files) {
    const c = readCase(TESTDATA, rel);
    if (EXCLUDED.has(rel)) {
      // Not scored, but shown: these should fail exactly where the README says the corpus is wrong.
      const differ = (await runCase(c, { schemaFor })).filter((r) => r.scored && r.actual !== r.expected);
      excludedReport.push(`${rel}: ${differ.map((r) => `${r.step} ${r.actual} (${r.detail})`).join(', ') || 'all match'}`);
      continue;
    }
    const results = await runCase(c, {
      schemaFor,
      knownIssue: (step) => knownIssue(step, rel),
    });
    for (const comparison of compareValidators(c, schemaFor)) {
      validatorComparisons++;
      if (!comparison.agree) disagreements.push(`${rel}: ${comparison.detail}`);
    }

    let fileOk = true;
    for (const r of results) {
      const t = stepTally.get(r.step)!;
      t.ms += r.ms;
      if (!r.scored) continue;
      t.run++;
      if (r.actual === r.expected) t.matched++;
      if (r.knownIssue !== undefined) {
        if (r.actual !== r.expected) {
          const key = `${r.step} ${r.knownIssue}`;
          expectedFailures.set(key, [...(expectedFailures.get(key) ?? []), rel]);
        } else knownIssuesMatching++;
      } else if (r.actual !== r.expected) {
        fileOk = false;
        mismatches.push(describe(rel, c, r));
      }
    }
    if (fileOk) passed++;
    else failed++;
  }

  console.log(`EU DCC corpus: ${files.length} case files, ${EXCLUDED.size} excluded as wrong in the corpus:`);
  for (const e of excludedReport) console.log(`    excluded ${e}`);
  for (const [step, t] of stepTally) {
    console.log(`  ${step.padEnd(17)} ${`${t.matched}/${t.run}`.padStart(7)} scored results match  ${(t.ms / 1000).toFixed(2)} s`);
  }
  const failingAsExpected = [...expectedFailures.values()].reduce((n, files) => n + files.length, 0);
  console.log(`  known issues (expected failures): ${failingAsExpected} fail as expected, ${knownIssuesMatching} match anyway`);
  for (const [issue, files] of expectedFailures) {
    const shown = files.length > 4 ? `${files.slice(0, 4).join(', ')} and ${files.length - 4} more` : files.join(', ');
    console.log(`    ${issue}: ${shown}`);
  }
  console.log(
    `  run-time schema validator vs ajv with the official 1.3 schemas: ${validatorComparisons} comparisons, ${disagreements.length} disagreements`,
  );
  for (const d of disagreements) console.log(`    ${d}`);
  console.log(`  whole corpus: ${((performance.now() - startedAll) / 1000).toFixed(1)} s`);
  for (const m of mismatches) console.log(`  MISMATCH ${m}`);
  console.log(`${passed} passed, ${failed} failed`);
  // The runner repeats `conformance:` diagnostics in its closing summary.
  t.diagnostic(`conformance: EU DCC corpus ${passed} passed, ${failed} failed`);

  assert.equal(passed + failed, files.length - EXCLUDED.size);
  assert.deepEqual(mismatches, []);
  assert.ok(validatorComparisons > 0, 'the run-time validator was compared on the corpus');
  assert.deepEqual(disagreements, [], 'the run-time schema validator must agree with the official schema');
});

function describe(rel: string, c: TestCase, r: StepResult): string {
  return `${rel} ${r.step}: expected ${r.expected}, got ${r.actual} (${r.detail}) — ${c.TESTCTX.DESCRIPTION ?? ''}`;
}

// ---------------------------------------------------------------- our own certificates, in the corpus format

interface OwnCase {
  name: string;
  case: TestCase;
  /** What verifyHc1 must answer for PREFIX with the case's certificate trusted. */
  reason: ReasonCode;
}

test('certificates we issue, valid and tampered, pass the same runner with the expected outcomes', async () => {
  const validFrom = new Date('2024-01-01T00:00:00Z');
  const validUntil = new Date('2027-01-01T00:00:00Z');
  const signer = await generateSigningKey({ commonName: 'Dosis conformance DSC', country: 'ID', validFrom, validUntil });
  const other = await generateSigningKey({ commonName: 'Another DSC', country: 'ID', validFrom, validUntil });
  const key = importPrivateKey(signer.privateKeyPkcs8);
  const kid = kidBytesOf(signer.certificateDer);
  const clock = new Date('2024-06-01T12:00:00Z');
  const payload = buildVaccinationPayload({
    name: 'Siti Nurhaliza',
    birthDate: '1985-03-02',
    vp: '1119305005',
    mp: 'CoronaVac',
    ma: 'Sinovac-Biotech',
    doseNumber: 2,
    seriesDoses: 2,
    date: '2024-05-20',
    uvci: makeUvci('CONF/0001'),
    issuer: 'Kementerian Kesehatan Republik Indonesia',
  });
  const json = payload as unknown as Json;
  const sign = (opts: { issuedAt?: Date; expiresAt?: Date; privateKey?: typeof key } = {}): string =>
    encodeHc1(payload, {
      issuer: 'ID',
      issuedAt: opts.issuedAt ?? new Date('2024-05-20T03:00:00Z'),
      expiresAt: opts.expiresAt ?? new Date('2025-05-20T03:00:00Z'),
      kid,
      privateKey: opts.privateKey ?? key,
    });
  const all = (value: boolean): Record<string, boolean> =>
    Object.fromEntries(STEPS.filter((s) => s !== 'PICTUREDECODE').map((s) => [`EXPECTED${s}`, value]));

  const valid = layers(sign());
  // One byte of the signed payload changed ("Siti" → "Sito"), then compressed and encoded again.
  const tamperedCose = replaceBytes(hexBytes(valid.COSE), 'Siti', 'Sito');
  const tampered = layersFromCose(tamperedCose);
  const wrongKey = layers(sign({ privateKey: importPrivateKey(other.privateKeyPkcs8) }));
  const expired = layers(sign({ issuedAt: new Date('2024-01-02T00:00:00Z'), expiresAt: new Date('2024-03-01T00:00:00Z') }));
  const cut = (n: number): Layers => {
    const base45 = valid.BASE45.slice(0, valid.BASE45.length - n);
    let compressed: string | undefined;
    try {
      compressed = hexOf(base45Decode(base45));
    } catch {
      compressed = undefined;
    }
    return { ...valid, PREFIX: `HC1:${base45}`, BASE45: base45, ...(compressed === undefined ? {} : { COMPRESSED: compressed }) };
  };
  // valid.BASE45 has a length of 0 or 2 mod 3: cutting to 1 mod 3 breaks Base45 itself, cutting 3 breaks the zlib stream.
  const badLength = cut(valid.BASE45.length % 3 === 0 ? 2 : 1);
  // Keep whole Base45 groups: a trailing pair (length 2 mod 3) goes with the cut, or the
  // remainder could start mid-triplet and fail Base45 instead of zlib (a random flake).
  const badStream = cut(valid.BASE45.length % 3 === 2 ? 5 : 3);

  const cases: OwnCase[] = [
    { name: 'valid', case: asCase(valid, json, signer.certificateDer, clock, all(true)), reason: 'ok' },
    {
      name: 'payload-byte-changed',
      case: asCase(tampered, json, signer.certificateDer, clock, {
        ...all(true),
        EXPECTEDVERIFY: false,
        EXPECTEDDECODE: false,
        EXPECTEDVALIDJSON: false,
      }),
      reason: 'bad_signature',
    },
    {
      name: 'signed-with-wrong-key',
      case: asCase(wrongKey, json, signer.certificateDer, clock, { ...all(true), EXPECTEDVERIFY: false }),
      reason: 'bad_signature',
    },
    {
      name: 'expired',
      case: asCase(expired, json, signer.certificateDer, clock, { ...all(true), EXPECTEDEXPIRATIONCHECK: false }),
      reason: 'expired',
    },
    {
      name: 'truncated-base45',
      case: asCase(badLength, json, signer.certificateDer, clock, {
        EXPECTEDUNPREFIX: true,
        EXPECTEDB45DECODE: false,
        EXPECTEDVALIDJSON: false,
      }),
      reason: 'bad_base45',
    },
    {
      name: 'truncated-stream',
      case: asCase(badStream, json, signer.certificateDer, clock, {
        EXPECTEDUNPREFIX: true,
        EXPECTEDB45DECODE: true,
        EXPECTEDCOMPRESSION: false,
        EXPECTEDVALIDJSON: false,
      }),
      reason: 'bad_compression',
    },
    {
      name: 'bad-prefix',
      case: asCase({ ...valid, PREFIX: `HC2:${valid.BASE45}` }, json, signer.certificateDer, clock, {
        EXPECTEDUNPREFIX: false,
        EXPECTEDB45DECODE: true,
        EXPECTEDVALIDJSON: false,
      }),
      reason: 'bad_prefix',
    },
  ];
  assert.notEqual(badLength.BASE45.length % 3, 0);
  assert.equal(badLength.BASE45.length % 3, 1, 'the truncated Base45 text must have an impossible length');

  // Write them as corpus files and read them back through the same loader as the EU corpus.
  const dir = mkdtempSync(join(tmpdir(), 'dosis-dcc-cases-'));
  try {
    for (const own of cases) {
      const path = join(dir, 'ID', '2DCode', 'raw', `${own.name}.json`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, JSON.stringify(own.case, null, 2));
    }
    const files = listCaseFiles(dir);
    assert.equal(files.length, cases.length);
    // The official schema, test data beside the corpus, scores the schema step too.
    const schemaFor = schemaLoader(SCHEMAS);
    for (const own of cases) {
      const c = readCase(dir, `ID/2DCode/raw/${own.name}.json`);
      const results = await runCase(c, { schemaFor });
      const asked = Object.keys(c.EXPECTEDRESULTS).length;
      assert.equal(results.length, asked, `${own.name}: every requested step runs`);
      for (const r of results.filter(mustMatch)) {
        assert.equal(r.actual, r.expected, `${own.name} ${r.step}: ${r.detail}`);
      }
      const verdict = verifyHc1(c.PREFIX!, {
        trustList: [{ kid: signer.kid, certificate: signer.certificateDer }],
        now: clock,
      });
      assert.equal(verdict.reason, own.reason, `${own.name}: verifyHc1`);
      assert.equal(verdict.valid, own.reason === 'ok');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Layers {
  COSE: string;
  COMPRESSED?: string;
  BASE45: string;
  PREFIX: string;
  CBOR: string;
}

/** Every encoding stage of an HC1 string, as the corpus stores them (hex and text). */
function layers(hc1: string): Layers {
  const base45 = hc1.slice(4);
  const compressed = base45Decode(base45);
  const cose = new Uint8Array(inflateSync(compressed));
  return { PREFIX: hc1, BASE45: base45, COMPRESSED: hexOf(compressed), COSE: hexOf(cose), CBOR: hexOf(decodeCoseSign1(cose).payload) };
}

function layersFromCose(cose: Uint8Array): Layers {
  const compressed = deflateSync(cose, { level: 9 });
  const base45 = base45Encode(compressed);
  return { PREFIX: `HC1:${base45}`, BASE45: base45, COMPRESSED: hexOf(compressed), COSE: hexOf(cose), CBOR: hexOf(decodeCoseSign1(cose).payload) };
}

function asCase(l: Layers, json: Json, certificate: Uint8Array, clock: Date, expected: Record<string, boolean>): TestCase {
  return {
    JSON: json,
    CBOR: l.CBOR,
    COSE: l.COSE,
    ...(l.COMPRESSED === undefined ? {} : { COMPRESSED: l.COMPRESSED }),
    BASE45: l.BASE45,
    PREFIX: l.PREFIX,
    TESTCTX: {
      VERSION: 1,
      SCHEMA: '1.3.0',
      CERTIFICATE: Buffer.from(certificate).toString('base64'),
      VALIDATIONCLOCK: clock.toISOString(),
      DESCRIPTION: 'Dosis-issued certificate',
    },
    EXPECTEDRESULTS: expected,
  };
}

function replaceBytes(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const buf = Buffer.from(bytes);
  const at = buf.indexOf(from);
  assert.ok(at >= 0, `${from} not found in the signed payload`);
  const out = Buffer.from(buf);
  out.write(to, at, 'latin1');
  return new Uint8Array(out);
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function hexBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}
