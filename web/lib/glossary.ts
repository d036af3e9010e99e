/**
 * The words the console and the portal share: how a dose, an SMS and a
 * citizen's request are called, in plain Indonesian as a puskesmas nurse
 * says it (and in English). A page's own sentences stay in its own texts;
 * a state or a thing that appears on more than one page takes its word from
 * here, so it reads the same everywhere. Browser-safe: no I/O, no DOM.
 *
 * Words that read as translated or as jargon are not used (issue 17 item 15;
 * test/web/plain-words.test.ts checks the built pages): no "antre" for an SMS
 * waiting to go, no "gateway", no "dieskalasi", no "mengaku dosis
 * sebelumnya", no "tulisan apa pun" for a phone number's format.
 *
 * Labels begin with a capital letter; `lower()` gives the word for the
 * middle of a sentence.
 */
import type { Texts } from './lang.ts';

const id = {
  // A dose recorded while an earlier dose of the series is not on record.
  'dose.priorMissing': 'Dosis sebelumnya belum tercatat',
  'dose.priorMissingCase': 'Dosis sebelumnya belum tercatat — perlu dicek',

  // Where a certificate's SMS is.
  'sms.queued': 'Menunggu dikirim',
  'sms.pending': 'Sedang dikirim',
  'sms.submitted': 'Sudah dikirim ke operator seluler',
  'sms.delivered': 'Sampai di HP',
  'sms.failed': 'Gagal terkirim',
  'sms.expired': 'Tidak sampai (waktu habis)',
  'sms.unknown': 'Belum ada kabar sampai',
  'sms.held': 'Ditahan untuk diperiksa',
  'sms.cancelled': 'Dibatalkan',

  // A citizen's report of a dose that is not on record.
  'request.open': 'Menunggu pemeriksaan faskes',
  'request.escalated': 'Diteruskan ke dinas kesehatan',
  'request.entered': 'Dosis sudah dicatat',
  'request.declined': 'Ditolak',

  // Doses entered on this device that have not reached the server yet.
  'device.notSent': 'Belum terkirim',

  // A phone number may be typed in any of its usual forms.
  'phone.anyFormat': 'format apa pun',

  // The console's overview of recording and SMS.
  'overview.title': 'Pantauan pencatatan dan SMS',
  'overview.nav': 'Pantauan',

  // The server refused an entry (the reasons follow).
  'entry.refused': 'Data ini belum bisa disimpan:',
};

const en: Record<keyof typeof id, string> = {
  'dose.priorMissing': 'Earlier dose not on record',
  'dose.priorMissingCase': 'Earlier dose not on record — to be checked',

  'sms.queued': 'Waiting to be sent',
  'sms.pending': 'Being sent',
  'sms.submitted': 'Handed to the mobile operator',
  'sms.delivered': 'Delivered to the phone',
  'sms.failed': 'Failed',
  'sms.expired': 'Not delivered (timed out)',
  'sms.unknown': 'No delivery report yet',
  'sms.held': 'Held for review',
  'sms.cancelled': 'Cancelled',

  'request.open': 'Waiting for the facility to check',
  'request.escalated': 'Passed to the district health office',
  'request.entered': 'Dose recorded',
  'request.declined': 'Declined',

  'device.notSent': 'Not sent yet',

  'phone.anyFormat': 'any format',

  'overview.title': 'Recording and SMS overview',
  'overview.nav': 'Overview',

  'entry.refused': 'This entry could not be saved:',
};

export type GlossaryKey = keyof typeof id;

export const GLOSSARY: Texts<GlossaryKey> = { id, en };

/** The word for the middle of a sentence: the first letter in lower case. */
export function lower(word: string): string {
  return word.charAt(0).toLocaleLowerCase() + word.slice(1);
}
