/** The SMS that tells a person their missing-dose report was declined: the reason in words, one GSM-7 part. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smsShape } from '../../src/notify/gsm7.ts';
import { doseRequestDeclinedSms } from '../../src/notify/templates.ts';
import { DECLINE_REASONS } from '../../src/domain/dose-requests.ts';

describe('dose request declined SMS', () => {
  const base = { name: 'Siti Rahmawati', doseNumber: 2, date: '2021-07-08', facilityName: 'Puskesmas Kecamatan Menteng' } as const;

  it('says which dose, who, which facility and why, in Indonesian and English', () => {
    const id = doseRequestDeclinedSms({ ...base, lang: 'id', reason: 'wrong_facility' });
    assert.equal(id.text, 'Laporan dosis 2 tgl 8 Juli 2021 a.n. Siti R. tidak dicatat oleh Puskesmas Kecamatan Menteng: dosis ini tidak diberikan di faskes ini. Hubungi faskes tsb.');
    assert.equal(id.template, 'dose_request_declined.id');
    const en = doseRequestDeclinedSms({ ...base, lang: 'en', reason: 'person_not_identified' });
    assert.match(en.text, /^Your report of dose 2 on 8 July 2021 for Siti R\. was declined by Puskesmas Kecamatan Menteng: your identity could not be confirmed\./);
  });

  it('fits one GSM-7 part for every reason and language, a long facility name and a long "other" text included', () => {
    for (const lang of ['id', 'en'] as const)
      for (const reason of DECLINE_REASONS) {
        const sms = doseRequestDeclinedSms({
          ...base,
          lang,
          name: 'Raden Ajeng Kartini Sosroningrat Djojoadhiningrat',
          facilityName: 'Rumah Sakit Umum Daerah Provinsi Kalimantan Timur Abdul Wahab Sjahranie',
          reason,
          otherText: reason === 'other' ? 'Catatan di buku register kami menunjukkan tanggal yang berbeda; mohon datang membawa kartu vaksinasi asli ✓.' : null,
        });
        assert.deepEqual([smsShape(sms.text).parts, sms.encoding], [1, 'gsm7'], `${lang} ${reason}: ${sms.text}`);
      }
  });

  it('quotes the facility’s words for "other"', () => {
    const sms = doseRequestDeclinedSms({ ...base, lang: 'id', reason: 'other', otherText: 'mohon datang dengan kartu vaksin.' });
    assert.match(sms.text, /: mohon datang dengan kartu vaksin\. Hubungi faskes tsb\.$/);
  });
});
