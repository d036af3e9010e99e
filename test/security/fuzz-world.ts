/** What the fuzzer works against: an app with tokens of every role, a facility and a person with a dose. */
import type { Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { ADMIN_TOKEN, bearer, doseBody, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { createToken } from '../../src/access/tokens.ts';
import type { FuzzWorld } from './fuzz-requests.ts';

export async function fuzzWorld(db: Db, env: Record<string, string> = {}): Promise<{ rt: Runtime; world: FuzzWorld }> {
  const rt = await testRuntime(db, env);
  await createFacility(db, { code: 'PKM-FUZZ', name: 'Puskesmas Fuzz', regionCode: '317101' });
  const facility = (await createToken(db, { role: 'facility', facility: 'PKM-FUZZ', label: 'fuzz' }, null)).token;
  const tokens = [ADMIN_TOKEN, facility, await tokenFor(db, 'district', { region: '3171' }), await tokenFor(db, 'support')];
  const p = person({ name: 'Fuzz Santoso' });
  const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility), payload: doseBody(p) });
  if (res.statusCode !== 201) throw new Error(`fixture dose: ${res.body}`);
  const body = res.json() as { vaccination: { id: string }; person: { id: string }; certificate: { id: string } };
  return { rt, world: { tokens, ids: [body.vaccination.id, body.person.id, body.certificate.id], niks: [p.nik] } };
}
