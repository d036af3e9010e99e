import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGsm7, smsShape, toGsm7Lenient } from '../../src/notify/gsm7.ts';
import { certificateSms, codeSms, langFor, longDate, recallSms, reminderSms, shortName } from '../../src/notify/templates.ts';
import { decideReport, type NotificationStatus } from '../../src/notify/notifier.ts';
import { classifyFailure, outcomeOfBits, parseKannelReport, reportSignature, checkReportSignature, KannelGateway } from '../../src/notify/gateways.ts';

const LINK = `https://dosis.kemkes.go.id/c/${'A'.repeat(11)}_${'b'.repeat(10)}`; // 22-character token

describe('GSM-7', () => {
  it('tells GSM-7 text from text that needs UCS-2', () => {
    assert.equal(isGsm7('Sertifikat vaksin dosis 1/2 a.n. Budi S. sudah terbit: https://x/c/Ab-_9'), true);
    assert.equal(isGsm7('Ünïcødé ✓'), false);
    assert.equal(isGsm7('€ [x] {y}'), true);
  });

  it('counts parts: 160 septets in one, 153 per part after; extension characters take two; UCS-2 70/67', () => {
    assert.deepEqual(smsShape('a'.repeat(160)), { encoding: 'gsm7', length: 160, parts: 1 });
    assert.deepEqual(smsShape('a'.repeat(161)), { encoding: 'gsm7', length: 161, parts: 2 });
    assert.deepEqual(smsShape('€'.repeat(80)), { encoding: 'gsm7', length: 160, parts: 1 });
    assert.deepEqual(smsShape('€'.repeat(81)), { encoding: 'gsm7', length: 162, parts: 2 });
    assert.deepEqual(smsShape('✓'.repeat(70)), { encoding: 'ucs2', length: 70, parts: 1 });
    assert.deepEqual(smsShape('✓'.repeat(71)), { encoding: 'ucs2', length: 71, parts: 2 });
  });

  it('drops accents to stay GSM-7 but keeps scripts without a Latin form', () => {
    assert.equal(toGsm7Lenient('José Ñoño Łukasz Ōta'), 'José Ñoño Lukasz Ota', 'é and Ñ are GSM-7 already');
    assert.equal(toGsm7Lenient('Raphaël'), 'Raphael');
    assert.equal(toGsm7Lenient('王小明'), '王小明');
  });
});

describe('templates', () => {
  it('shortens names: first name and initials, accents dropped', () => {
    assert.equal(shortName('Budi Santoso'), 'Budi S.');
    assert.equal(shortName('Raden Ajeng Kartini Djojoadhiningrat'), 'Raden A. K. D.');
    assert.equal(shortName('Sukarno'), 'Sukarno');
    assert.equal(shortName('Raphaël Ülker'), 'Raphael Ü.', 'Ü is in the GSM-7 alphabet');
    assert.equal(shortName('Łucja Ōta'), 'Lucja O.');
  });

  it('renders the certificate SMS in Indonesian, one GSM-7 part, with the link', () => {
    const s = certificateSms({ lang: 'id', name: 'Budi Santoso', dn: 1, sd: 2, link: LINK });
    assert.equal(s.text, `Sertifikat vaksin dosis 1/2 a.n. Budi S. sudah terbit: ${LINK} Jangan bagikan tautan ini.`);
    assert.equal(s.encoding, 'gsm7');
    assert.equal(s.parts, 1);
    assert.ok(s.text.length <= 160, `${s.text.length} characters`);
    assert.equal(s.template, 'certificate_issued.id');
  });

  it('still fits one part with a long link base by dropping the warning, then shortening the name', () => {
    const long = `https://sertifikat-vaksinasi.dinkes.provinsi-contoh.go.id/layanan/c/${'A'.repeat(22)}`;
    const s = certificateSms({ lang: 'id', name: 'Raden Ajeng Kartini Djojoadhiningrat', dn: 3, sd: 3, link: long });
    assert.equal(s.parts, 1, s.text);
    assert.ok(s.text.includes(long));
    assert.ok(!s.text.includes('Jangan bagikan'));
  });

  it('keeps a name without a Latin form whole (UCS-2, two parts) rather than reducing it to an initial', () => {
    const s = certificateSms({ lang: 'id', name: '王小明', dn: 1, sd: 2, link: LINK });
    assert.equal(s.text, `Sertifikat vaksin dosis 1/2 a.n. 王小明 sudah terbit: ${LINK} Jangan bagikan tautan ini.`);
    assert.deepEqual([s.encoding, s.parts], ['ucs2', 2]);
  });

  it('renders English, reminders and codes', () => {
    assert.equal(certificateSms({ lang: 'en', name: 'Ann Lee', dn: 2, sd: 2, link: LINK }).text, `Vaccination certificate, dose 2/2, for Ann L. is ready: ${LINK} Do not share this link.`);
    const r = reminderSms({ lang: 'id', name: 'Budi Santoso', doseNumber: 2, vaccineName: 'CoronaVac', due: '2021-07-08' });
    assert.match(r.text, /^Pengingat: Budi S\., dosis ke-2 vaksin CoronaVac dapat diberikan mulai 8 Juli 2021\./);
    assert.equal(r.encoding, 'gsm7');
    assert.equal(longDate('2022-01-27', 'en'), '27 January 2022');
    const c = codeSms({ lang: 'id', code: '482913', minutes: 10 });
    assert.match(c.text, /^Kode Dosis Anda: 482913\. Berlaku 10 menit\./);
    assert.equal(c.parts, 1);
  });

  it('writes Indonesian to Indonesian numbers and English abroad', () => {
    assert.equal(langFor('+6281234567890', 'id'), 'id');
    assert.equal(langFor('+6591234567', 'id'), 'en');
  });
});

describe('Kannel reports', () => {
  it('reads status bits, not equality: 34 is expired, 16 rejected, 8 intermediate', () => {
    assert.equal(outcomeOfBits(1, null), 'delivered');
    assert.equal(outcomeOfBits(2, 'id:1 stat:UNDELIV err:001'), 'failed');
    assert.equal(outcomeOfBits(34, null), 'expired');
    assert.equal(outcomeOfBits(2, 'id:1 stat:EXPIRED err:000'), 'expired');
    assert.equal(outcomeOfBits(16, 'NACK/0x0000000b/Invalid Destination Address'), 'rejected');
    assert.equal(outcomeOfBits(8, 'ACK/'), 'intermediate');
    assert.equal(outcomeOfBits(4, null), 'intermediate');
  });

  it('parses the error code from the receipt or the NACK', () => {
    assert.equal(parseKannelReport({ d: '2', rc: 'id:1000001 sub:001 dlvrd:000 stat:UNDELIV err:001 text:x', f: '1000001' }).error, '001');
    const nack = parseKannelReport({ d: '16', rc: 'NACK/0x0000000b/Invalid Destination Address', f: '' });
    assert.deepEqual([nack.outcome, nack.error, nack.smscId], ['rejected', '0x0000000b', null]);
    assert.throws(() => parseKannelReport({ d: 'x' }), RangeError);
  });

  it('signs report URLs per notification and attempt', () => {
    const secret = Buffer.from('s'.repeat(32));
    const sig = reportSignature(secret, 'p', 'n', 1);
    assert.equal(checkReportSignature(secret, 'p', 'n', 1, sig), true);
    assert.equal(checkReportSignature(secret, 'p', 'n', 2, sig), false);
    assert.equal(checkReportSignature(Buffer.from('t'.repeat(32)), 'p', 'n', 1, sig), false);
    assert.equal(checkReportSignature(secret, 'p', 'n', 1, ''), false);
  });

  it('asks Kannel for every report (dlr-mask 31) and UTF-8 only for non-GSM text', () => {
    const g = new KannelGateway({
      route: 'primary',
      kannel: { url: 'http://127.0.0.1:13013/cgi-bin/sendsms', user: 'u', password: 'p w', sender: 'DOSIS', smsc: 'TSEL' },
      reportUrl: 'https://dosis.test/api/v1/sms/reports',
      reportSecret: Buffer.from('k'.repeat(32)),
      timeoutMs: 1000,
    });
    const m = { personId: '11111111-1111-4111-8111-111111111111', notificationId: '22222222-2222-4222-8222-222222222222', attempt: 2, to: '+6281234567890', text: 'Halo', encoding: 'gsm7' as const };
    const u = new URL(g.sendUrl(m));
    assert.equal(u.searchParams.get('dlr-mask'), '31');
    assert.equal(u.searchParams.get('coding'), null);
    assert.equal(u.searchParams.get('smsc'), 'TSEL');
    assert.equal(u.searchParams.get('password'), 'p w');
    const dlr = u.searchParams.get('dlr-url') ?? '';
    assert.ok(dlr.startsWith(`https://dosis.test/api/v1/sms/reports?p=${m.personId}&n=${m.notificationId}&a=2&r=primary&s=`), dlr);
    assert.ok(dlr.endsWith('&d=%d&f=%F&rc=%A&t=%T&to=%p'), dlr);
    const u2 = new URL(g.sendUrl({ ...m, text: 'Ünïcødé ✓', encoding: 'ucs2' }));
    assert.equal(u2.searchParams.get('coding'), '2');
    assert.equal(u2.searchParams.get('charset'), 'UTF-8');
  });
});

describe('report decisions (never backwards)', () => {
  const n = (status: NotificationStatus, attempt = 1, bits = 0, final = false, retrying = false) => ({
    status,
    attempt,
    report_bits: bits,
    final_at: final ? new Date() : null,
    next_attempt_at: retrying ? new Date() : null,
  });
  const rep = (bits: number) => ({ bits, outcome: outcomeOfBits(bits, null) });
  it('delivers from any state and attempt, once', () => {
    assert.deepEqual(decideReport(n('submitted'), 1, rep(1)), { kind: 'update', status: 'delivered' });
    assert.deepEqual(decideReport(n('unknown', 2, 0, true), 1, rep(1)), { kind: 'update', status: 'delivered' }, 'a late report after giving up');
    assert.deepEqual(decideReport(n('delivered'), 1, rep(1)), { kind: 'ignore' });
    assert.deepEqual(decideReport(n('delivered'), 1, rep(2)), { kind: 'ignore' });
    assert.deepEqual(decideReport(n('delivered'), 1, rep(8)), { kind: 'ignore' }, '8 after 1');
  });
  it('takes an intermediate report forward only', () => {
    assert.deepEqual(decideReport(n('pending'), 1, rep(8)), { kind: 'update', status: 'submitted' });
    assert.deepEqual(decideReport(n('submitted', 1, 8), 1, rep(8)), { kind: 'ignore' }, 'a duplicate 8');
    assert.deepEqual(decideReport(n('submitted', 1, 8), 1, rep(4)), { kind: 'update', status: 'submitted' }, 'a new bit');
  });
  it('fails the current attempt once; stale attempts never fail it', () => {
    assert.deepEqual(decideReport(n('submitted'), 1, rep(2)), { kind: 'failure', status: 'failed' });
    assert.deepEqual(decideReport(n('submitted'), 1, rep(34)), { kind: 'failure', status: 'expired' });
    assert.deepEqual(decideReport(n('pending'), 1, rep(16)), { kind: 'failure', status: 'failed' });
    assert.deepEqual(decideReport(n('failed'), 1, rep(2)), { kind: 'ignore' }, 'a duplicate failure');
    assert.deepEqual(decideReport(n('submitted', 2), 1, rep(2)), { kind: 'ignore' }, 'attempt 1 failing while attempt 2 runs');
  });
  it('lets a late failure settle an attempt left unknown at its timeout, not one already retried', () => {
    assert.deepEqual(decideReport(n('unknown', 1, 8), 1, rep(2)), { kind: 'failure', status: 'failed' }, 'taken by the gateway, timed out, not resent');
    assert.deepEqual(decideReport(n('unknown', 1, 0, false, true), 1, rep(2)), { kind: 'ignore' }, 'a retry is already scheduled');
    assert.deepEqual(decideReport(n('unknown', 1, 8, true), 1, rep(2)), { kind: 'ignore' }, 'final unknown');
  });
});

describe('failure classes (permanent / temporary / gateway)', () => {
  const perm = new Set(['001', '005', '009', '011', '012', '013']);
  const c = (q: Record<string, string>) => classifyFailure(parseKannelReport(q), perm);
  it('reads SMPP command statuses of a NACK', () => {
    assert.equal(c({ d: '16', rc: 'NACK/0x0000000b/Invalid Destination Address' }), 'permanent');
    assert.equal(c({ d: '16', rc: 'NACK/0x00000066/Rejected by application' }), 'permanent');
    assert.equal(c({ d: '16', rc: 'NACK/0x00000014/Message Queue Full' }), 'temporary');
    assert.equal(c({ d: '16', rc: 'NACK/0x00000058/Throttling error' }), 'temporary');
    assert.equal(c({ d: '16', rc: 'NACK/0x00000008/System Error' }), 'gateway');
    assert.equal(c({ d: '16', rc: 'NACK/0x0000000a/Invalid Source Address' }), 'gateway');
    assert.equal(c({ d: '16' }), 'gateway', 'rejected without a status says nothing about the number');
  });
  it('reads receipt errors', () => {
    assert.equal(c({ d: '2', rc: 'id:1 sub:001 dlvrd:000 stat:UNDELIV err:001 text:x' }), 'permanent');
    assert.equal(c({ d: '2', rc: 'id:1 sub:001 dlvrd:000 stat:UNDELIV err:13 text:x' }), 'permanent');
    assert.equal(c({ d: '2', rc: 'id:1 sub:001 dlvrd:000 stat:UNDELIV err:027 text:x' }), 'temporary', 'absent subscriber');
    assert.equal(c({ d: '2', rc: 'id:1 sub:001 dlvrd:000 stat:REJECTD err:000 text:x' }), 'permanent');
    assert.equal(c({ d: '34', rc: 'id:1 sub:001 dlvrd:000 stat:EXPIRED err:001 text:x' }), 'temporary', 'expired: the phone was off');
    assert.equal(c({ d: '2' }), 'temporary');
  });
});

describe('recall SMS', () => {
  it('names the vaccine, the lot and the person, in one GSM-7 part', () => {
    const s = recallSms({ lang: 'id', name: 'Dewi Lestari Putri', vaccineName: 'CoronaVac', lot: 'A123' });
    assert.equal(s.text, 'Vaksin CoronaVac batch A123 yang diterima Dewi L. P. ditarik. Sertifikatnya dicabut. Hubungi faskes Anda.');
    assert.deepEqual([s.template, s.encoding, s.parts], ['lot_recalled.id', 'gsm7', 1]);
    const en = recallSms({ lang: 'en', name: 'Dewi Lestari', vaccineName: 'CoronaVac', lot: 'A123' });
    assert.equal(en.text, 'The CoronaVac vaccine of lot A123 given to Dewi L. was recalled. Its certificate is revoked. Contact your health facility.');
  });

  it('stays one GSM-7 part with a name in another script, a non-GSM lot, or a 50-character lot', () => {
    const cjk = recallSms({ lang: 'id', name: '王小明', vaccineName: 'CoronaVac', lot: 'A123' });
    assert.equal(cjk.text, 'Vaksin CoronaVac batch A123 yang Anda terima ditarik. Sertifikatnya dicabut. Hubungi faskes Anda.');
    const odd = recallSms({ lang: 'id', name: 'Budi', vaccineName: 'CoronaVac', lot: 'Ä1–✓' });
    assert.deepEqual([odd.encoding, odd.parts], ['gsm7', 1]);
    assert.match(odd.text, /batch Ä1-\? yang diterima Budi/);
    for (const lang of ['id', 'en'] as const) {
      const long = recallSms({ lang, name: 'Bartholomeus Christophorus Wirjosoemarto', vaccineName: 'Vaxzevria', lot: 'X'.repeat(50) });
      assert.deepEqual([long.encoding, long.parts], ['gsm7', 1], long.text);
    }
  });
});
