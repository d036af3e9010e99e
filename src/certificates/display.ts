/**
 * How certificate facts are written for people, in Indonesian and English:
 * dates, doses, vaccine names, countries. Browser-safe: the certificate page,
 * the verifier page and the PDF all write them with these functions, so the
 * three say the same thing the same way.
 */

import { allVaccines, scheduleOn } from '../domain/vaccines.ts';

export type Lang = 'id' | 'en';

const LOCALE: Record<Lang, string> = { id: 'id-ID', en: 'en-GB' };

/** Formatters are costly to create (tens of µs each): one per language and form, made on first use. */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(lang: Lang, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${lang} ${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(LOCALE[lang], options);
    formatters.set(key, f);
  }
  return f;
}

/**
 * A calendar date as people read it: "17 Mei 1980" / "17 May 1980". EU DCC
 * birth dates may be partial ("1980", "1980-05"): written as far as known.
 * A date-time is written as its date in UTC. Anything else is returned as is.
 */
export function formatDate(value: string, lang: Lang): string {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?$/.exec(value);
  if (!m) return value;
  const [, y, mo, d] = m;
  const date = new Date(Date.UTC(Number(y), mo ? Number(mo) - 1 : 0, d ? Number(d) : 1));
  if (Number.isNaN(date.getTime())) return value;
  const options: Intl.DateTimeFormatOptions = { timeZone: 'UTC', year: 'numeric' };
  if (mo) options.month = 'long';
  if (mo && d) options.day = 'numeric';
  return formatter(lang, options).format(date);
}

/**
 * A date for a page read in both languages, written once: "17 April 1980"
 * (the same in both), "17 Mei / May 1980" (only the month's name differs),
 * "1980". Never the whole date twice side by side.
 */
export function formatDateBilingual(value: string): string {
  const id = formatDate(value, 'id');
  const en = formatDate(value, 'en');
  if (id === en) return id;
  const a = id.split(' ');
  const b = en.split(' ');
  if (a.length === b.length) {
    const differ = a.flatMap((w, i) => (w === b[i] ? [] : [i]));
    if (differ.length === 1) {
      const i = differ[0]!;
      return [...a.slice(0, i), `${a[i]} / ${b[i]}`, ...a.slice(i + 1)].join(' ');
    }
  }
  return `${id} / ${en}`;
}

/** A point in time with its hour, in Indonesian western time (WIB): "22 November 2025 10.15". */
export function formatDateTime(value: Date, lang: Lang): string {
  return formatter(lang, { timeZone: 'Asia/Jakarta', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(value);
}

/** "Dosis 2 dari 2" / "Dose 2 of 2" (EU DCC dn/sd). */
export function doseOfSeries(dn: number, sd: number, lang: Lang): string {
  return lang === 'id' ? `Dosis ${dn} dari ${sd}` : `Dose ${dn} of ${sd}`;
}

/** The role of a dose: "Vaksinasi primer" / "Booster 1". */
export function doseRoleLabel(role: 'primary' | 'booster', boosterNumber: number | undefined, lang: Lang): string {
  if (role === 'booster') return boosterNumber ? `Booster ${boosterNumber}` : 'Booster';
  return lang === 'id' ? 'Vaksinasi primer' : 'Primary series';
}

/** Where a vaccination certificate stands in its series, as a checker must read it beside the validity. */
export interface SeriesState {
  state: 'incomplete' | 'complete' | 'booster';
  text: string;
}

/**
 * The series state of a vaccination certificate's `dn/sd` (and product `mp`,
 * date `dt`): "Belum lengkap: dosis 1 dari 2", "Vaksinasi primer lengkap:
 * dosis 2 dari 2", "Booster 1: dosis 3 dari 3". A booster is dn > sd, or
 * dn = sd above the product's own series size (the EU reading after
 * 2021/2301: 3/3 after two doses; domain/doses.ts); a product the catalogue
 * does not know reads n/n as complete.
 */
export function seriesState(v: { dn: number; sd: number; mp: string; dt: string }, lang: Lang): SeriesState {
  const of = doseOfSeries(v.dn, v.sd, lang).replace(/^D/, 'd');
  if (v.dn < v.sd) return { state: 'incomplete', text: lang === 'id' ? `Belum lengkap: ${of}` : `Not complete: ${of}` };
  const product = allVaccines().find((x) => x.eu.mp === v.mp);
  const seriesDoses = product ? scheduleOn(product, v.dt.slice(0, 10)).dosesInPrimarySeries : v.sd;
  if (v.dn > v.sd || v.dn > seriesDoses) {
    const booster = v.dn - (v.sd === 1 ? 1 : seriesDoses);
    return { state: 'booster', text: `${booster > 0 ? `Booster ${booster}` : 'Booster'}: ${of}` };
  }
  return { state: 'complete', text: lang === 'id' ? `Vaksinasi primer lengkap: ${of}` : `Primary series complete: ${of}` };
}

/** The vaccine of an EU DCC medicinal-product code (`mp`): Dosis's catalogue name, else the code itself. */
export function vaccineNameOf(mp: string): string {
  return allVaccines().find((v) => v.eu.mp === mp)?.name ?? mp;
}

/** A country's name from its ISO 3166 alpha-2 code, in the reader's language ("ID" → "Indonesia"). */
export function countryName(code: string, lang: Lang): string {
  try {
    return new Intl.DisplayNames([LOCALE[lang]], { type: 'region' }).of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** The holder's name as the certificate gives it: the names as written, else their ICAO transliteration. */
export function holderName(nam: { fn?: string; gn?: string; fnt?: string; gnt?: string }): string {
  const written = [nam.gn, nam.fn].filter((s): s is string => Boolean(s && s.trim())).join(' ');
  if (written) return written;
  return [nam.gnt, nam.fnt]
    .filter((s): s is string => Boolean(s))
    .join(' ')
    .replace(/</g, ' ')
    .trim();
}
