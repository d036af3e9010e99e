/**
 * SMS templates, Indonesian (default) and English. Pure functions.
 *
 * The certificate SMS must fit one GSM-7 part (160 characters): one part is
 * cheaper, and Kannel's delivery report covers only the first part of a long
 * text. So names are shortened ("Budi Santoso" → "Budi S."), accents dropped,
 * and, if the link base is long, the optional sentence goes first, then the
 * name shrinks to initials.
 */
import { isGsm7, smsShape, toGsm7Lenient, type SmsEncoding } from './gsm7.ts';
import { DECLINE_REASON_TEXT, type DeclineReason } from '../domain/dose-requests.ts';

export type Lang = 'id' | 'en';

export interface RenderedSms {
  template: string;
  text: string;
  encoding: SmsEncoding;
  parts: number;
}

function rendered(template: string, lang: Lang, text: string): RenderedSms {
  const s = smsShape(text);
  return { template: `${template}.${lang}`, text, encoding: s.encoding, parts: s.parts };
}

/** "Budi Santoso Wijaya" → "Budi S. W."; a single long name is cut; accents dropped. */
export function shortName(name: string, max = 24): string {
  const words = toGsm7Lenient(name).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '';
  const [first, ...rest] = words as [string, ...string[]];
  let out = first.length > max ? first.slice(0, max) : first;
  for (const w of rest) {
    const initial = `${[...w][0]?.toUpperCase() ?? ''}.`;
    if (out.length + 1 + initial.length > max) break;
    out += ` ${initial}`;
  }
  return out;
}

/** "B. S." */
function initials(name: string): string {
  return toGsm7Lenient(name)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => `${[...w][0]?.toUpperCase() ?? ''}.`)
    .join(' ');
}

export interface CertificateSmsInput {
  lang: Lang;
  name: string;
  dn: number;
  sd: number;
  link: string;
}

/** "Your certificate is issued", with its link. Fits 160 GSM-7 characters whenever the link leaves room. */
export function certificateSms(i: CertificateSmsInput): RenderedSms {
  const build = (name: string, warn: boolean) =>
    i.lang === 'id'
      ? `Sertifikat vaksin dosis ${i.dn}/${i.sd} a.n. ${name} sudah terbit: ${i.link}${warn ? ' Jangan bagikan tautan ini.' : ''}`
      : `Vaccination certificate, dose ${i.dn}/${i.sd}, for ${name} is ready: ${i.link}${warn ? ' Do not share this link.' : ''}`;
  const candidates = [build(shortName(i.name), true), build(shortName(i.name), false), build(initials(i.name), false)];
  // The first that takes the fewest parts: a name in a script without GSM-7 letters makes any
  // version UCS-2 (70 per part), and then initials would only lose the name for nothing.
  const parts = candidates.map((t) => smsShape(t).parts);
  const best = parts.indexOf(Math.min(...parts));
  return rendered('certificate_issued', i.lang, candidates[best] as string);
}

const MONTHS: Record<Lang, string[]> = {
  id: ['Januari', 'Februari', 'Maret', 'April', 'Mei', 'Juni', 'Juli', 'Agustus', 'September', 'Oktober', 'November', 'Desember'],
  en: ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'],
};

/** `2021-07-08` → "8 Juli 2021" / "8 July 2021". */
export function longDate(iso: string, lang: Lang): string {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return `${d} ${MONTHS[lang][m - 1] ?? m} ${y}`;
}

export interface ReminderSmsInput {
  lang: Lang;
  name: string;
  doseNumber: number;
  vaccineName: string;
  due: string;
}

/** Next-dose reminder. */
export function reminderSms(i: ReminderSmsInput): RenderedSms {
  const name = shortName(i.name);
  const when = longDate(i.due, i.lang);
  const text =
    i.lang === 'id'
      ? `Pengingat: ${name}, dosis ke-${i.doseNumber} vaksin ${i.vaccineName} dapat diberikan mulai ${when}. Datang ke faskes terdekat dengan membawa KTP.`
      : `Reminder: ${name}, dose ${i.doseNumber} of ${i.vaccineName} can be given from ${when}. Visit your nearest health facility with your ID card.`;
  return rendered('next_dose_reminder', i.lang, text);
}

export interface CodeSmsInput {
  lang: Lang;
  code: string;
  minutes: number;
}

/** One-time code for the certificate lookup or a phone change. */
export function codeSms(i: CodeSmsInput): RenderedSms {
  const text =
    i.lang === 'id'
      ? `Kode Dosis Anda: ${i.code}. Berlaku ${i.minutes} menit. JANGAN berikan kode ini kepada siapa pun, termasuk petugas.`
      : `Your Dosis code: ${i.code}. Valid for ${i.minutes} minutes. Do NOT share this code with anyone, staff included.`;
  return rendered('one_time_code', i.lang, text);
}

export interface RecallSmsInput {
  lang: Lang;
  /** The person's name (shortened here; tells apart the people of a shared phone). */
  name: string;
  /** The vaccine's display name ("CoronaVac"). */
  vaccineName: string;
  lot: string;
}

/**
 * "The vaccine of lot X you received was recalled; its certificate is revoked."
 * Always one GSM-7 part: the name shrinks to initials, then goes; a long lot
 * number is cut last (the facility knows the whole one).
 */
export function recallSms(i: RecallSmsInput): RenderedSms {
  const vaccine = toGsm7Lenient(i.vaccineName).slice(0, 30);
  const build = (name: string | null, lot: string) =>
    i.lang === 'id'
      ? `Vaksin ${vaccine} batch ${lot} yang ${name ? `diterima ${name}` : 'Anda terima'} ditarik. Sertifikatnya dicabut. Hubungi faskes Anda.`
      : `The ${vaccine} vaccine of lot ${lot} ${name ? `given to ${name}` : 'you received'} was recalled. Its certificate is revoked. Contact your health facility.`;
  // Staff typed the lot: anything outside GSM-7 would turn the whole SMS into UCS-2 (70 per part).
  const lot = [...toGsm7Lenient(i.lot).trim()].map((c) => (isGsm7(c) ? c : '?')).join('');
  for (const c of [build(shortName(i.name), lot), build(initials(i.name), lot)]) {
    const s = smsShape(c);
    if (s.parts === 1 && s.encoding === 'gsm7') return rendered('lot_recalled', i.lang, c);
  }
  let cut = lot;
  while (cut.length > 1 && smsShape(build(null, cut)).parts > 1) cut = cut.slice(0, -1);
  return rendered('lot_recalled', i.lang, build(null, cut));
}

export interface DoseRequestDeclinedSmsInput {
  lang: Lang;
  name: string;
  doseNumber: number;
  /** The vaccination date the person gave (ISO). */
  date: string;
  facilityName: string;
  reason: DeclineReason;
  /** The facility's words when the reason is `other`. */
  otherText?: string | null;
}

/**
 * "Your report of a missing dose was declined, because …". The entered case
 * needs no text of its own: the certificate SMS of the recorded dose is the
 * answer. Aims at one GSM-7 part: the facility name, then the person's name,
 * shrink; a long "other" text is cut last (the facility can say more).
 */
export function doseRequestDeclinedSms(i: DoseRequestDeclinedSmsInput): RenderedSms {
  const when = longDate(i.date, i.lang);
  const clean = (s: string) => [...toGsm7Lenient(s).replace(/\s+/g, ' ').trim()].map((c) => (isGsm7(c) ? c : '?')).join('');
  const reasonOf = (cut: number) =>
    i.reason === 'other' ? clean(i.otherText ?? '').slice(0, cut).replace(/[\s.!]+$/, '') : DECLINE_REASON_TEXT[i.reason][i.lang];
  const build = (name: string, facility: string, reason: string, tail: boolean) =>
    i.lang === 'id'
      ? `Laporan dosis ${i.doseNumber} tgl ${when} a.n. ${name} tidak dicatat oleh ${facility}: ${reason}.${tail ? ' Hubungi faskes tsb.' : ''}`
      : `Your report of dose ${i.doseNumber} on ${when} for ${name} was declined by ${facility}: ${reason}.${tail ? ' Contact the facility.' : ''}`;
  const facility = clean(i.facilityName);
  const short = shortName(i.name);
  const init = initials(i.name);
  // Shrink in this order: the facility's name, the person's name, the closing sentence; a long "other" text last.
  const candidates: [string, number, boolean][] = [
    [short, 40, true],
    [init, 40, true],
    [init, 25, true],
    [init, 25, false],
    [init, 15, false],
  ];
  for (const [name, f, tail] of candidates) {
    const text = build(name, facility.slice(0, f), reasonOf(500), tail);
    if (smsShape(text).parts === 1) return rendered('dose_request_declined', i.lang, text);
  }
  let cut = 120;
  let text = build(init, facility.slice(0, 15), reasonOf(cut), false);
  while (cut > 10 && smsShape(text).parts > 1) text = build(init, facility.slice(0, 15), reasonOf((cut -= 5)), false);
  return rendered('dose_request_declined', i.lang, text);
}

/** The language of an SMS to `recipient`: the configured one for Indonesian numbers, English abroad. */
export function langFor(recipient: string, indonesian: Lang): Lang {
  return recipient.startsWith('+62') ? indonesian : 'en';
}

/** Why support declined a phone correction (access/phone-corrections.ts); the SMS says what to do next. */
export type CorrectionDeclineReason = 'identity_mismatch' | 'duplicate_request' | 'other';

export interface CorrectionDeclinedSmsInput {
  lang: Lang;
  reason: CorrectionDeclineReason;
}

/**
 * "Your request to change your phone number was declined", to the number that
 * asked, which is not approved: so no name, no NIK, no link, and nothing that
 * tells whether the details match anyone ("could not be confirmed", never "no
 * such person"). One GSM-7 part.
 */
export function correctionDeclinedSms(i: CorrectionDeclinedSmsInput): RenderedSms {
  const id: Record<CorrectionDeclineReason, string> = {
    identity_mismatch:
      'Permintaan ganti nomor HP di Dosis ditolak: data tidak dapat dipastikan. Ajukan lagi dengan NIK, tgl lahir & nama sesuai KTP, atau datang ke faskes.',
    duplicate_request: 'Permintaan ganti nomor HP di Dosis ditolak: sudah ada permintaan yang sama. Tunggu SMS keputusan permintaan sebelumnya.',
    other: 'Permintaan ganti nomor HP di Dosis ditolak. Untuk bantuan, datang ke faskes terdekat dengan membawa KTP.',
  };
  const en: Record<CorrectionDeclineReason, string> = {
    identity_mismatch: 'Your Dosis phone change request was declined: the details could not be confirmed. Apply again as on your ID card, or visit a clinic.',
    duplicate_request: 'Your Dosis phone change request was declined: the same request was already made. Wait for the SMS about that one.',
    other: 'Your Dosis phone change request was declined. For help, visit your nearest health facility with your ID card.',
  };
  return rendered('phone_correction_declined', i.lang, (i.lang === 'id' ? id : en)[i.reason]);
}

/**
 * "The phone number of your vaccination record was changed", to the number it
 * replaced (records/operations.ts `correctPhone`): if the change was not the
 * owner's, this is how they learn of it. No name, no NIK, no link (the old
 * number may be someone else's by now, and a link would be phished); only
 * where to turn. One GSM-7 part.
 */
export function phoneReplacedSms(i: { lang: Lang }): RenderedSms {
  const text =
    i.lang === 'id'
      ? 'Dosis: nomor HP untuk data vaksinasi yang memakai nomor ini telah diganti ke nomor lain. Jika Anda tidak memintanya, datang ke faskes dengan membawa KTP.'
      : 'Dosis: the vaccination record that used this number now has another phone number. If you did not ask for this, visit a health facility with your ID card.';
  return rendered('phone_replaced', i.lang, text);
}
