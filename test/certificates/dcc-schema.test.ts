import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDateTime, validateHcert } from '../../src/certificates/dcc-schema.ts';

const vaccination = {
  ver: '1.3.0',
  nam: { fn: 'Santoso', fnt: 'SANTOSO', gn: 'Budi', gnt: 'BUDI' },
  dob: '1980-05-17',
  v: [
    {
      tg: '840539006',
      vp: '1119305005',
      mp: 'CoronaVac',
      ma: 'Sinovac-Biotech',
      dn: 1,
      sd: 2,
      dt: '2021-06-10',
      co: 'ID',
      is: 'Kementerian Kesehatan RI',
      ci: 'URN:UVCI:01:ID:ABC#X',
    },
  ],
};
const testEntry = {
  tg: '840539006',
  tt: 'LP6464-4',
  nm: 'Roche LightCycler qPCR',
  sc: '2021-05-29T19:21:13+02:00',
  tr: '260415000',
  tc: 'Lab',
  co: 'DE',
  is: 'RKI',
  ci: 'URN:UVCI:01:DE:X',
};
const recoveryEntry = {
  tg: '840539006',
  fr: '2021-04-21',
  co: 'NL',
  is: 'Ministry of VWS',
  df: '2021-05-01',
  du: '2021-10-21',
  ci: 'URN:UVCI:01:NL:X',
};

/** A deep copy with one change at a dotted path (undefined deletes). */
function withChange(base: object, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

function issuesOf(value: unknown): string[] {
  const r = validateHcert(value);
  return r.valid ? [] : r.issues.map((i) => i.path);
}

test('accepts vaccination, test and recovery payloads, and extra fields', () => {
  assert.deepEqual(issuesOf(vaccination), []);
  assert.deepEqual(issuesOf({ ver: '1.3.0', nam: vaccination.nam, dob: '1980', t: [testEntry] }), []);
  assert.deepEqual(issuesOf({ ver: '1.3.0', nam: vaccination.nam, dob: '', r: [recoveryEntry] }), []);
  assert.deepEqual(issuesOf(withChange(vaccination, 'meta', { note: 'issuer extension' })), []);
  const r = validateHcert(vaccination);
  assert.ok(r.valid && r.payload.v?.[0].ci === 'URN:UVCI:01:ID:ABC#X');
});

test('requires the top-level fields and exactly one group with one entry', () => {
  assert.deepEqual(issuesOf(withChange(vaccination, 'ver', undefined)), ['/ver']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam', undefined)), ['/nam']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'dob', undefined)), ['/dob']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v', undefined)), ['']);
  assert.deepEqual(issuesOf({ ...vaccination, t: [testEntry] }), ['']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v', [])), ['/v']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v', [vaccination.v[0], vaccination.v[0]])), ['/v']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v', vaccination.v[0])), ['/v']);
  assert.deepEqual(issuesOf([vaccination]), ['']);
  assert.deepEqual(issuesOf(null), ['']);
});

test('checks names: fnt or gnt, A–Z and <, at most 80 characters', () => {
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam', { gn: 'Budi', gnt: 'BUDI' })), [], 'gnt alone is enough (1.3.3)');
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam', { fn: 'Budi' })), ['/nam']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam.fnt', 'Santoso')), ['/nam/fnt']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam.gnt', 'BUDI 2')), ['/nam/gnt']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam.fn', 'x'.repeat(81))), ['/nam/fn']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam.fn', 'é'.repeat(80))), [], 'length counts code points');
  assert.deepEqual(issuesOf(withChange(vaccination, 'nam.fn', 42)), ['/nam/fn']);
});

test('checks dates as the 1.3 schema does, tolerating a date-time where a date is due', () => {
  assert.deepEqual(issuesOf(withChange(vaccination, 'dob', '1963-00')), [], 'the schema pattern accepts 00 for unknown');
  assert.deepEqual(issuesOf(withChange(vaccination, 'dob', '1899-01-01')), ['/dob']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'dob', '17.05.1980')), ['/dob']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dt', '2021-03-18T22:54:00+02:00')), []);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dt', '2021-02-30')), ['/v/0/dt']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dt', '10/06/2021')), ['/v/0/dt']);
  const t = { ver: '1.3.0', nam: vaccination.nam, dob: '1980', t: [testEntry] };
  assert.deepEqual(issuesOf(withChange(t, 't.0.sc', '2021-05-29')), ['/t/0/sc'], 'sc needs a time');
  assert.deepEqual(issuesOf(withChange(t, 't.0.sc', '2021-05-29T25:00:00Z')), ['/t/0/sc']);
  const r = { ver: '1.3.0', nam: vaccination.nam, dob: '1980', r: [recoveryEntry] };
  assert.deepEqual(issuesOf(withChange(r, 'r.0.du', undefined)), ['/r/0/du']);
  assert.deepEqual(issuesOf(withChange(r, 'r.0.df', '2022-01-08T00:00:00.000Z')), []);
});

test('checks dose numbers and the other entry fields', () => {
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dn', 0)), ['/v/0/dn']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.sd', 1.5)), ['/v/0/sd']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dn', '1')), ['/v/0/dn']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.dn', 12)), [], 'schema 1.3 has no upper bound');
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.co', 'id')), ['/v/0/co']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.ci', 'x'.repeat(81))), ['/v/0/ci']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'v.0.mp', undefined)), ['/v/0/mp']);
  assert.deepEqual(issuesOf(withChange(vaccination, 'ver', '1.3')), ['/ver']);
});

test('RFC 3339 date-times', () => {
  assert.equal(isDateTime('2021-05-29T19:21:13Z'), true);
  assert.equal(isDateTime('2021-05-29T19:21:13.123456+02:00'), true);
  assert.equal(isDateTime('2021-05-29 19:21:13Z'), false);
  assert.equal(isDateTime('2021-05-29T19:21:13'), false, 'an offset is required');
  assert.equal(isDateTime('2021-05-29T19:61:13Z'), false);
});
