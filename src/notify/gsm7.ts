/**
 * GSM 03.38 (3GPP TS 23.038) text: whether a text fits the 7-bit default
 * alphabet, and how many SMS parts it takes. A text with one character
 * outside it must go as UCS-2 (Kannel: `coding=2&charset=UTF-8`), which
 * shrinks a part from 160 to 70 characters — so templates stay GSM-7.
 */

/** The default alphabet (one septet each). */
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** The extension table (escape + one septet: two each). */
const EXTENDED = '^{}\\[~]|€\f';

const BASIC_SET = new Set(BASIC);
/** Latin letters that NFD does not decompose. */
const PLAIN: Record<string, string> = { Ł: 'L', ł: 'l', Đ: 'D', đ: 'd', Ħ: 'H', ħ: 'h', ı: 'i', Œ: 'OE', œ: 'oe', Þ: 'Th', þ: 'th' };
const EXTENDED_SET = new Set(EXTENDED);

export type SmsEncoding = 'gsm7' | 'ucs2';

/** True when every character of `text` is in the GSM-7 default alphabet or its extension. */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!BASIC_SET.has(ch) && !EXTENDED_SET.has(ch)) return false;
  return true;
}

/** Septets of a GSM-7 text (extension characters take two). */
export function septets(text: string): number {
  let n = 0;
  for (const ch of text) n += EXTENDED_SET.has(ch) ? 2 : 1;
  return n;
}

/** UTF-16 code units, as UCS-2 counts them (a character outside the BMP takes two). */
function ucs2Units(text: string): number {
  return text.length;
}

/** The encoding and number of parts of `text` (single: 160 septets or 70 units; concatenated: 153 or 67 per part). */
export function smsShape(text: string): { encoding: SmsEncoding; length: number; parts: number } {
  if (isGsm7(text)) {
    const length = septets(text);
    return { encoding: 'gsm7', length, parts: length <= 160 ? 1 : Math.ceil(length / 153) };
  }
  const length = ucs2Units(text);
  return { encoding: 'ucs2', length, parts: length <= 70 ? 1 : Math.ceil(length / 67) };
}

/**
 * Makes a name safe for GSM-7 where that loses nothing a reader needs:
 * accents dropped (`José` → `Jose`) and typographic quotes straightened.
 * Characters with no Latin form (Chinese, Arabic…) are kept: that text goes as UCS-2.
 */
export function toGsm7Lenient(text: string): string {
  const straight = text.replace(/[\u2018\u2019\u02bc]/g, "'").replace(/[\u201c\u201d]/g, '"').replace(/[\u2013\u2014]/g, '-');
  let out = '';
  for (const ch of straight) {
    if (BASIC_SET.has(ch) || EXTENDED_SET.has(ch)) {
      out += ch;
      continue;
    }
    const stripped = PLAIN[ch] ?? ch.normalize('NFD').replace(/\p{M}/gu, '');
    out += stripped.length > 0 && [...stripped].every((c) => BASIC_SET.has(c)) ? stripped : ch;
  }
  return out;
}
