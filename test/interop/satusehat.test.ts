/**
 * SATUSEHAT's Immunization rules, checked on their own, and the official R4
 * JSON schema (test/helpers/fhir-schema.ts) on every Immunization Dosis
 * exports. The rules are written out here, apart from fhir/satusehat.ts: an
 * Immunization claims SATUSEHAT's profile exactly when it meets them, and
 * passes the R4 schema either way.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Immunization } from '@medplum/fhirtypes';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import { r4SchemaErrors } from '../helpers/fhir-schema.ts';
import type { Runtime } from '../../src/runtime.ts';
import { vaccineCodes } from '../../src/domain/vaccine-codes.ts';
import type { VaccineCode } from '../../src/domain/vaccines.ts';
import {
  NO_SATUSEHAT_FACTS,
  SATUSEHAT_IMMUNIZATION_PROFILE,
  immunizationResource,
  type SatusehatFacts,
  type VaccinationRecord,
} from '../../src/fhir/satusehat.ts';

/** Every SATUSEHAT rule an Immunization breaks (DOMAIN.md, SATUSEHAT Immunization); empty when it meets them all. */
function satusehatRuleFailures(imm: Immunization): string[] {
  const fails: string[] = [];
  const when = imm.occurrenceDateTime ?? '';
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/.test(when)) fails.push('occurrenceDateTime: YYYY-MM-DDThh:mm:ss+00:00 (UTC)');
  else if (when < '2014-06-03') fails.push('occurrenceDateTime: not before 2014-06-03');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/.test(imm.recorded ?? '')) fails.push('recorded: UTC timestamp');
  if (!/^Encounter\/[^/]+$/.test(imm.encounter?.reference ?? '')) fails.push('encounter: Encounter/{id}');
  if (!/^Location\/[^/]+$/.test(imm.location?.reference ?? '')) fails.push('location: Location/{id}');
  const actors = (imm.performer ?? []).map((p) => p.actor.reference ?? '');
  if (!actors.some((r) => /^(Practitioner|Organization)\/[^/]+$/.test(r))) fails.push('performer.actor: a Practitioner or Organization reference');
  const org = actors.map((r) => /^Organization\/([^/]+)$/.exec(r)?.[1]).find(Boolean);
  const system = org ? `http://sys-ids.kemkes.go.id/immunization/${org}` : undefined;
  if (!system || !(imm.identifier ?? []).some((i) => i.system === system && i.value)) fails.push('identifier: system http://sys-ids.kemkes.go.id/immunization/{organization_id}');
  if (!/^Patient\/P\d+$/.test(imm.patient.reference ?? '')) fails.push('patient: Patient/{IHS number}');
  if (!imm.lotNumber) fails.push('lotNumber');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(imm.expirationDate ?? '')) fails.push('expirationDate');
  if (!(imm.vaccineCode.coding ?? []).some((c) => c.system === 'http://sys-ids.kemkes.go.id/kfa' && /^93\d+$/.test(c.code ?? ''))) fails.push('vaccineCode: a KFA (93…) coding');
  for (const p of imm.protocolApplied ?? []) {
    if (!p.doseNumberPositiveInt || !p.seriesDosesPositiveInt) fails.push('protocolApplied: doseNumber and seriesDoses');
  }
  return fails;
}

const claims = (imm: Immunization): boolean => (imm.meta?.profile ?? []).includes(SATUSEHAT_IMMUNIZATION_PROFILE);

/** The claim is made exactly when the rules hold, and the resource is R4 either way. */
function assertHonest(imm: Immunization): void {
  assert.deepEqual(r4SchemaErrors(imm), [], 'valid against the official R4 JSON schema');
  const fails = satusehatRuleFailures(imm);
  if (claims(imm)) assert.deepEqual(fails, [], 'a resource that claims the profile meets its rules');
  else assert.notDeepEqual(fails, [], 'a resource that meets every rule claims the profile');
}

const FULL: SatusehatFacts = {
  organizationId: '10000004',
  locationId: 'b017aa54-f1df-4ec2-9d84-8823815d7228',
  ihsNumber: 'P02478375538',
  encounterId: '2823ed1d-3e3e-434e-9a5b-9c579d192787',
  lotExpiresOn: '2021-12-31',
  givenAt: new Date('2021-06-10T02:15:30.250Z'),
};

function record(satusehat: SatusehatFacts, more: Partial<VaccinationRecord> = {}): VaccinationRecord {
  const history = [
    { doseNumber: 1, date: '2021-06-10', vaccine: 'CORONAVAC' },
    { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' },
    { doseNumber: 3, date: '2022-03-01', vaccine: 'COMIRNATY' },
  ];
  return {
    id: '6f1d7c3e-5a0b-4c4e-8f7d-2b9a1c0e4d11',
    personId: '0e3c2a1b-9d8f-4e7a-b6c5-d4e3f2a1b0c9',
    doseNumber: 1,
    vaccine: 'CORONAVAC',
    date: '2021-06-10',
    lot: 'A123',
    facilityCode: 'PKM-MENTENG',
    facilityName: 'Puskesmas Menteng',
    status: 'recorded',
    source: 'api',
    recordedAt: new Date('2021-06-10T03:00:00Z'),
    history,
    satusehat,
    ...more,
  };
}

/** A vaccine-code table with a KFA entry. The code is made up for this test only: Dosis's own table has none (domain/vaccine-codes.ts). */
const withKfa = (code: VaccineCode) => ({ ...vaccineCodes(code), kfa: { code: '930000000001', display: 'test-only KFA entry' } });

describe('SATUSEHAT Immunization (pure mapping)', () => {
  it('with every fact known (and a KFA entry) it claims the profile and meets every rule, R4 schema included', () => {
    const imm = immunizationResource(record(FULL), { name: 'Budi Santoso' }, 'https://dosis.test', withKfa);
    assert.ok(claims(imm));
    assertHonest(imm);
    assert.equal(imm.occurrenceDateTime, '2021-06-10T02:15:30+00:00', 'the time of the dose, in UTC with its offset');
    assert.equal(imm.patient.reference, 'Patient/P02478375538');
    assert.equal(imm.encounter?.reference, 'Encounter/2823ed1d-3e3e-434e-9a5b-9c579d192787');
    assert.equal(imm.location?.reference, 'Location/b017aa54-f1df-4ec2-9d84-8823815d7228');
    assert.equal(imm.performer?.[0]?.actor.reference, 'Organization/10000004');
    assert.deepEqual(imm.identifier?.[0], { system: 'http://sys-ids.kemkes.go.id/immunization/10000004', value: '6f1d7c3e-5a0b-4c4e-8f7d-2b9a1c0e4d11' });
    assert.equal(imm.expirationDate, '2021-12-31');
    assert.equal(imm.vaccineCode.coding?.[0]?.system, 'http://sys-ids.kemkes.go.id/kfa');
  });

  it('each missing fact drops the claim, and the resource stays valid R4', () => {
    const facts: (keyof SatusehatFacts)[] = ['organizationId', 'locationId', 'ihsNumber', 'encounterId', 'lotExpiresOn'];
    for (const missing of facts) {
      const imm = immunizationResource(record({ ...FULL, [missing]: null }), { name: 'Budi Santoso' }, 'https://dosis.test', withKfa);
      assert.equal(claims(imm), false, `without ${missing}`);
      assertHonest(imm);
    }
    const noLot = immunizationResource(record(FULL, { lot: null }), { name: 'Budi Santoso' }, 'https://dosis.test', withKfa);
    assert.equal(claims(noLot), false, 'without a lot');
    assertHonest(noLot);
    const noKfa = immunizationResource(record(FULL), { name: 'Budi Santoso' }, 'https://dosis.test');
    assert.equal(claims(noKfa), false, "without a KFA code (Dosis's table has none)");
    assertHonest(noKfa);
  });

  it('without a time of dose, occurrenceDateTime is 12:00 WIB of the date (05:00 UTC, same date everywhere in Indonesia)', () => {
    const imm = immunizationResource(record(NO_SATUSEHAT_FACTS), { name: 'Budi Santoso' }, 'https://dosis.test');
    assert.equal(imm.occurrenceDateTime, '2021-06-10T05:00:00+00:00');
    assert.equal(imm.patient.reference, 'Patient/0e3c2a1b-9d8f-4e7a-b6c5-d4e3f2a1b0c9', "Dosis's own Patient without an IHS number");
    assert.equal(imm.performer?.[0]?.actor.reference, undefined);
    assert.equal(imm.performer?.[0]?.actor.identifier?.value, 'PKM-MENTENG', 'a logical reference by facility code');
    assertHonest(imm);
  });

  it('the rule check does fail: a resource claiming the profile without meeting it is caught', () => {
    const imm = immunizationResource(record(NO_SATUSEHAT_FACTS), { name: 'Budi Santoso' }, 'https://dosis.test');
    const lying: Immunization = { ...imm, meta: { profile: [SATUSEHAT_IMMUNIZATION_PROFILE] } };
    assert.throws(() => assertHonest(lying), /claims the profile meets its rules/);
    assert.notDeepEqual(r4SchemaErrors({ ...imm, lotNumber: 7 } as unknown as Immunization), [], 'the schema check does fail');
  });
});

describeEachBackend('SATUSEHAT facts from the database', (t) => {
  let rt: Runtime;

  it('exports the identifier system, IHS patient, location, performer and lot expiry it holds; no claim without encounter and KFA', async () => {
    rt = await testRuntime(t.db);
    const fac = await facilityWithToken(t.db);
    const p = person();
    const d1 = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { lot: 'a123' }) });
    assert.equal(d1.statusCode, 201, d1.body);
    const personId = d1.json().person.id as string;
    await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { doseNumber: 2, date: '2021-07-08', lot: 'B456' }) });
    await t.db.query('UPDATE facilities SET satusehat_organization_id = $2, satusehat_location_id = $3 WHERE code = $1', [fac.code, '10000004', 'b017aa54-f1df-4ec2-9d84-8823815d7228']);
    await t.db.query('UPDATE people SET ihs_number = $2 WHERE id = $1', [personId, 'P02478375538']);
    await t.db.query("INSERT INTO vaccine_lots (vaccine, lot_key, lot, expires_on) VALUES ('CORONAVAC', 'A123', 'A123', '2021-12-31')");

    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Immunization?patient=Patient/${personId}`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(res.statusCode, 200, res.body);
    const bundle = res.json();
    assert.deepEqual(r4SchemaErrors(bundle), [], 'the searchset Bundle passes the R4 schema');
    const [first, second] = bundle.entry.map((e: { resource: Immunization }) => e.resource) as Immunization[];
    assert.ok(first && second);
    for (const imm of [first, second]) assertHonest(imm);
    assert.equal(claims(first), false, 'no encounter, no KFA code: no claim');
    assert.deepEqual(satusehatRuleFailures(first), ['encounter: Encounter/{id}', 'vaccineCode: a KFA (93…) coding']);
    assert.equal(first.identifier?.[0]?.system, 'http://sys-ids.kemkes.go.id/immunization/10000004');
    assert.equal(first.patient.reference, 'Patient/P02478375538');
    assert.equal(first.location?.reference, 'Location/b017aa54-f1df-4ec2-9d84-8823815d7228');
    assert.equal(first.performer?.[0]?.actor.reference, 'Organization/10000004');
    assert.equal(first.expirationDate, '2021-12-31', 'the lot register gives it (lot matched without regard to case)');
    assert.equal(second.expirationDate, undefined, 'a lot the register does not know has no expiry');
  });
});
