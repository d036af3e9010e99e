/**
 * What the fuzzer works against: an app with tokens of every role, a
 * facility, a person with a dose (ids to aim at), and valid bodies of the
 * main writes for the fuzzer to send as they are or with one part changed.
 */
import fc from 'fast-check';
import type { Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { ADMIN_TOKEN, bearer, doseBody, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { createToken } from '../../src/access/tokens.ts';
import { validPerson, type FuzzWorld } from './fuzz-requests.ts';

export async function fuzzWorld(db: Db, env: Record<string, string> = {}): Promise<{ rt: Runtime; world: FuzzWorld }> {
  const rt = await testRuntime(db, env);
  await createFacility(db, { code: 'PKM-FUZZ', name: 'Puskesmas Fuzz', regionCode: '317101' });
  const facility = (await createToken(db, { role: 'facility', facility: 'PKM-FUZZ', label: 'fuzz' }, null)).token;
  const tokens = [ADMIN_TOKEN, facility, await tokenFor(db, 'district', { region: '3171' }), await tokenFor(db, 'support')];
  const p = person({ name: 'Fuzz Santoso' });
  const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility), payload: doseBody(p) });
  if (res.statusCode !== 201) throw new Error(`fixture dose: ${res.body}`);
  const body = res.json<{ vaccination: { id: string }; person: { id: string }; certificate: { id: string; qr: string } }>();
  const dose = fc.record({
    person: validPerson,
    vaccine: fc.constantFrom('CORONAVAC', 'PFIZER', 'ASTRAZENECA', 'MODERNA'),
    doseNumber: fc.integer({ min: 1, max: 4 }),
    date: fc.constantFrom('2021-06-10', '2021-09-01', '2022-02-14'),
    lot: fc.constantFrom('A123', 'PF-7781', 'x'),
  });
  const identity = validPerson.map((v) => ({ nik: v.nik, birthDate: v.birthDate }));
  const examples: Record<string, fc.Arbitrary<unknown>> = {
    'POST /api/v1/vaccinations': dose,
    'POST /api/v1/public/lookup': fc.oneof(identity, fc.constant({ nik: p.nik, birthDate: p.birthDate })),
    'POST /api/v1/public/phone-corrections': fc.record({ nik: fc.constant(p.nik), birthDate: fc.constant(p.birthDate), name: fc.constant(p.name), newPhone: fc.constantFrom('0813-2222-3333', '+62 857 1111 2222') }),
    'POST /api/v1/verify': fc.constant({ qr: body.certificate.qr }),
    'POST /api/v1/facilities': fc.record({ code: fc.constantFrom('PKM-A', 'PKM-B'), name: fc.constant('Puskesmas A'), regionCode: fc.constantFrom('317101', '3171') }),
    'POST /api/v1/tokens': fc.record({ role: fc.constantFrom('facility', 'district', 'support', 'admin'), facility: fc.constant('PKM-FUZZ'), region: fc.constant('3171'), label: fc.constant('fuzz') }),
    'PATCH /api/v1/people/{id}': fc.record({ phone: fc.constantFrom('0812-9999-0000', '') }),
    'POST /api/v1/vaccinations/{id}/void': fc.record({ reason: fc.constantFrom('entered twice', 'wrong person') }),
  };
  return { rt, world: { tokens, ids: [body.vaccination.id, body.person.id, body.certificate.id], niks: [p.nik], examples } };
}
