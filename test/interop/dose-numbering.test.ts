/**
 * One person, two primary doses of CoronaVac and a Comirnaty booster: every
 * output Dosis makes of those doses — the EU DCC, the FHIR export, the
 * certificate page, the PDF and the staff timeline — says the same dose and
 * series numbers (1/2, 2/2, 3/3 with "booster 1": EU DCC 1.3 after Decision
 * (EU) 2021/2301), because each takes them from domain/doses.ts
 * roleInHistory; the SMART Health Card, whose IG forbids dose numbers, lists
 * the same three doses in that order.
 * Also: POST /api/v1/verify names "vaccine not in the EU list" for IndoVac.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { r4SchemaErrors } from '../helpers/fhir-schema.ts';
import type { Runtime } from '../../src/runtime.ts';

interface Numbering {
  dose: number;
  of: number;
  series: string;
}

const dir = mkdtempSync(join(tmpdir(), 'dosis-numbering-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describeEachBackend('dose and series numbers agree across outputs', (t) => {
  let rt: Runtime;

  it('DCC, SMART Health Card, FHIR, PDF and timeline: 1/2 and 2/2 primary, 3/3 booster 1', async () => {
    rt = await testRuntime(t.db);
    const fac = await facilityWithToken(t.db);
    const support = await tokenFor(t.db, 'support');
    const p = person({ name: 'Dewi Lestari' });
    const answers = [];
    for (const body of [
      doseBody(p),
      doseBody(p, { doseNumber: 2, date: '2021-07-08', lot: 'B456' }),
      doseBody(p, { doseNumber: 3, date: '2022-03-01', vaccine: 'COMIRNATY', lot: 'FF1' }),
    ]) {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: body });
      assert.equal(r.statusCode, 201, r.body);
      answers.push(r.json());
    }
    const personId = answers[0].person.id as string;
    const expected: Numbering[] = [
      { dose: 1, of: 2, series: 'primary' },
      { dose: 2, of: 2, series: 'primary' },
      { dose: 3, of: 3, series: 'booster 1' },
    ];

    // EU DCC: dn/sd of each signed certificate, read back by the verifier.
    // (The DCC has no series label: dn/sd is all it says, and the recording answer names the role.)
    const dcc: number[][] = [];
    const dccDates: string[] = [];
    for (const a of answers) {
      const v = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: a.certificate.qr } })).json();
      assert.equal(v.valid, true);
      dcc.push([v.payload.v[0].dn, v.payload.v[0].sd]);
      dccDates.push(v.payload.v[0].dt);
    }
    assert.deepEqual(dcc, expected.map((e) => [e.dose, e.of]), 'EU DCC');
    assert.deepEqual(answers.map((a) => a.vaccination.role), ['primary', 'primary', 'booster'], 'the recording answer');

    // SMART Health Card: its vaccination IG forbids protocolApplied (0..0; verifiers count the
    // Immunizations), so the card carries no numbers that could disagree: its Immunizations are the
    // three doses in date order, the k-th on the date and of the product of the DCC numbered k.
    const card = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(support) })).json();
    const shc = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: card.shc } })).json();
    assert.equal(shc.valid, true, JSON.stringify(shc.issues));
    assert.deepEqual(r4SchemaErrors(shc.payload.vc.credentialSubject.fhirBundle), [], 'the card bundle passes the official R4 JSON schema');
    const shcImms = shc.payload.vc.credentialSubject.fhirBundle.entry
      .map((e: { resource: Record<string, unknown> }) => e.resource)
      .filter((r: { resourceType: string }) => r.resourceType === 'Immunization');
    assert.deepEqual(
      shcImms.map((r: { occurrenceDateTime: string; vaccineCode: { coding: { code: string }[] }; protocolApplied?: unknown }) => [r.occurrenceDateTime, r.vaccineCode.coding[0]?.code, r.protocolApplied]),
      [
        ['2021-06-10', '511', undefined],
        ['2021-07-08', '511', undefined],
        ['2022-03-01', '208', undefined],
      ],
      'SMART Health Card: dose k is the k-th Immunization',
    );
    assert.deepEqual(dccDates, ['2021-06-10', '2021-07-08', '2022-03-01'], 'the DCCs numbered 1, 2, 3 are of those dates');

    // FHIR export.
    const bundle = (await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Immunization?patient=Patient/${personId}`, headers: bearer(ADMIN_TOKEN) })).json();
    assert.deepEqual(r4SchemaErrors(bundle), [], 'the FHIR searchset passes the official R4 JSON schema');
    const fhir: Numbering[] = bundle.entry.map((e: { resource: { protocolApplied: { doseNumberPositiveInt: number; seriesDosesPositiveInt: number; series: string }[] } }) => {
      const pa = e.resource.protocolApplied[0];
      return { dose: pa?.doseNumberPositiveInt, of: pa?.seriesDosesPositiveInt, series: pa?.series };
    });
    assert.deepEqual(fhir, expected, 'FHIR');

    // The certificate page's JSON and each PDF, read back as text.
    const token = new URL(answers[0].certificate.link as string).pathname.replace('/c/', '');
    const view = (await rt.app.inject({ url: `/api/v1/public/links/${token}` })).json();
    const page: Numbering[] = view.certificates.map((c: { dn: number; sd: number; role: string; boosterNumber: number | null }) => ({
      dose: c.dn,
      of: c.sd,
      series: c.role === 'booster' ? `booster ${c.boosterNumber}` : c.role,
    }));
    assert.deepEqual(page, expected, 'certificate page');
    const pdfDoses: string[] = [];
    for (const c of view.certificates as { pdf: string }[]) {
      const pdf = await rt.app.inject({ url: c.pdf });
      assert.equal(pdf.statusCode, 200);
      const file = join(dir, `${pdfDoses.length}-${t.backend}.pdf`);
      writeFileSync(file, pdf.rawPayload);
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
      pdfDoses.push(/Dose \d of \d · [^\n·]+/.exec(text)?.[0]?.trim() ?? text.slice(0, 200));
    }
    assert.deepEqual(pdfDoses, ['Dose 1 of 2 · Primary series', 'Dose 2 of 2 · Primary series', 'Dose 3 of 3 · Booster 1'], 'PDF');

    // The staff timeline: each dose's series, and what each certificate_issued event carries.
    const timeline = (await rt.app.inject({ url: `/api/v1/people/${personId}/timeline`, headers: bearer(support) })).json();
    const tl: Numbering[] = timeline.doses.map((d: { series: { dn: number; sd: number; role: string; boosterNumber: number | null } }) => ({
      dose: d.series.dn,
      of: d.series.sd,
      series: d.series.role === 'booster' ? `booster ${d.series.boosterNumber}` : d.series.role,
    }));
    assert.deepEqual(tl, expected, 'timeline doses');
    const issued = timeline.events
      .filter((e: { type: string }) => e.type === 'certificate_issued')
      .map((e: { dn: number; sd: number }) => [e.dn, e.sd])
      .sort((a: number[], b: number[]) => (a[0] ?? 0) - (b[0] ?? 0));
    assert.deepEqual(issued, expected.map((e) => [e.dose, e.of]), 'timeline certificate events');
  });

  it('POST /api/v1/verify says "vaccine not in the EU list" for IndoVac (id and en), and nothing for CoronaVac', async () => {
    const fac = await facilityWithToken(t.db);
    const r = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/vaccinations',
      headers: bearer(fac.token),
      payload: doseBody(person(), { vaccine: 'INDOVAC', date: '2022-10-03', lot: 'IV1' }),
    });
    assert.equal(r.statusCode, 201, r.body);
    const qr = r.json().certificate.qr as string;
    const en = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } })).json();
    assert.equal(en.valid, true);
    assert.equal(en.payload.v[0].mp, 'IndoVac');
    assert.equal(en.notices?.[0]?.code, 'vaccine_not_in_eu_list');
    assert.match(en.notices[0].message, /^Vaccine not in the EU list: IndoVac /);
    const id = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr }, headers: { 'accept-language': 'id' } })).json();
    assert.match(id.notices?.[0]?.message ?? '', /^Vaksin tidak ada dalam daftar UE: IndoVac /);
    const coronavac = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody() })).json().certificate.qr } })).json();
    assert.equal(coronavac.valid, true);
    assert.equal(coronavac.notices, undefined);
  });
});
