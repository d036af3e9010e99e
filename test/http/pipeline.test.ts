import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';

describeEachBackend('pipeline view and audit log', (t) => {
  let rt: Runtime;

  it('counts each stage, shows the oldest waiting SMS, per facility and within scope', async () => {
    rt = await testRuntime(t.db);
    const a = await facilityWithToken(t.db, '317101');
    const b = await facilityWithToken(t.db, '327301');
    for (const fac of [a, a, b]) {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) });
      assert.equal(r.statusCode, 201, r.body);
    }
    const stage = (body: { stages: { stage: string; count: number; oldestWaitingSeconds: number | null }[] }, name: string) => body.stages.find((s) => s.stage === name);
    const all = (await rt.app.inject({ method: 'GET', url: '/api/v1/stats/pipeline', headers: bearer(ADMIN_TOKEN) })).json();
    assert.equal(stage(all, 'recorded')?.count, 3);
    assert.equal(stage(all, 'certified')?.count, 3);
    assert.equal(stage(all, 'sms_queued')?.count, 3, 'no worker ran: three SMS wait');
    assert.ok((stage(all, 'sms_queued')?.oldestWaitingSeconds ?? -1) >= 0);
    assert.deepEqual(all.facilities.map((f: { facility: string }) => f.facility).sort(), [a.code, b.code].sort());
    const district = await tokenFor(t.db, 'district', { region: '3273' });
    const mine = (await rt.app.inject({ method: 'GET', url: '/api/v1/stats/pipeline', headers: bearer(district) })).json();
    assert.equal(stage(mine, 'recorded')?.count, 1);
    assert.deepEqual(mine.facilities.map((f: { facility: string }) => f.facility), [b.code]);
  });

  it('audits every staff read of a person and lets admin query the log', async () => {
    const fac = await facilityWithToken(t.db);
    const d = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) })).json();
    const support = await tokenFor(t.db, 'support');
    await rt.app.inject({ method: 'GET', url: `/api/v1/people/${d.person.id}/timeline`, headers: bearer(support) });
    const log = (await rt.app.inject({ method: 'GET', url: `/api/v1/audit?person=${d.person.id}`, headers: bearer(ADMIN_TOKEN) })).json();
    assert.deepEqual(log.entries.map((e: { action: string }) => e.action), ['person_viewed']);
    const denied = await rt.app.inject({ method: 'GET', url: '/api/v1/audit', headers: bearer(support) });
    assert.equal(denied.statusCode, 403);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
