/**
 * Names, for matching people — never for changing how a name is stored or shown.
 *
 * Indonesian names come in many spellings of one name: Muhammad / Muhamad / Mohammad / Moch. / M.;
 * the old (pre-1972 Van Ophuijsen and Soewandi) spellings still on many KTPs: Soekarno / Sukarno,
 * Djoko / Joko, Tjahjo / Cahyo, Jusuf / Yusuf, Sjahrir / Syahrir, Chairul / Khairul / Hairul;
 * doubled letters (Muhammad / Muhamad, Abdullah / Abdulah); joined or split names (Nur Aini /
 * Nuraini, Abdul Rahman / Abdurrahman); f/p/v (Yusuf / Yusup, Arif / Arip, Fitri / Vitri);
 * dropped final h (Fatimah / Fatima) and y/i/ie endings (Rizky / Rizki / Rizkie). Many people have
 * a single name. A staff member looking for "the dose given under a mistyped NIK" searches by name
 * and birth date, so `nameKey` folds these variants together: a key match is a candidate for a
 * person to confirm, never a merge by itself.
 */

import type { PersonIdentifier } from './types.ts';

/** Lower case, without diacritics or punctuation, single spaces: for exact-ish comparison. */
export function normalizeName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '') // combining marks: é → e
    .toLowerCase()
    .replace(/['’‘`´ʼ]/g, '') // Ma'ruf → maruf (the apostrophe joins, it does not separate)
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .replace(/\s+/g, ' ');
}

/** Spellings and abbreviations of Muhammad, as separate words. */
const MUHAMMAD = /^(?:m[ou]c?k?h?[ae]?m+[ae]d|m[ou]c?h?d?|muh|muhd|mhd|mhmd|md|m)$/;

/** Honorifics and titles written before a name on registers (Haji, Hajjah, Drs., Ir., Prof., KH). */
const LEADING_TITLES = new Set(['h', 'hj', 'hajah', 'hajjah', 'haji', 'dr', 'drs', 'dra', 'ir', 'prof', 'kh', 'ust', 'ustadz', 'hc']);

/**
 * A spelling-tolerant key for Indonesian name variants: names that are commonly the same name
 * written differently get the same key ("Mochammad Djoko Soesilo" and "Muhamad Joko Susilo").
 * Academic degrees after a comma and leading titles are dropped; the words are joined, so
 * "Nur Aini" and "Nuraini" match.
 */
export function nameKey(name: string): string {
  // Degrees follow a comma on registers: "Budi Santoso, S.Pd., M.Kes".
  const beforeComma = name.split(',')[0] ?? '';
  let words = normalizeName(beforeComma).split(' ').filter((w) => w !== '');
  while (words.length > 1 && LEADING_TITLES.has(words[0] ?? '')) words = words.slice(1);
  const parts = words.map((w) => (MUHAMMAD.test(w) && (w.length > 1 || words.length > 1) ? 'mhmd' : foldWord(w)));
  return (
    parts
      .join('')
      // Abdul Rahman / Abdurrahman / Abdulrahman: the article assimilates before a "sun letter",
      // and only after joining can "abdul" + "rahman" be seen as one name.
      .replace(/abdul(?=[rstdn])/g, 'abdu')
      // Doubled letters: Muhammad / Muhamad, Abdullah / Abdulah, Noor / Nor, Nur Rahman / Nurahman.
      .replace(/(.)\1+/g, '$1')
  );
}

/**
 * Whether a name given with a dose names the person on record: the same key
 * once spellings, titles, degrees and spacing are folded (`nameKey`, as the
 * search folds them). A typo or a missing word is not the same name: the dose
 * is then held for a person to confirm (records/README.md, identity holds).
 */
export function sameName(given: string, recorded: string): boolean {
  return nameKey(given) === nameKey(recorded);
}

function foldWord(word: string): string {
  let w = word;
  // Old spellings first (order matters: dj before j→y, tj before j→y).
  w = w.replace(/oe/g, 'u');
  w = w.replace(/dj/g, 'j');
  w = w.replace(/tj/g, 'c');
  w = w.replace(/sj/g, 'sy');
  w = w.replace(/nj/g, 'ny');
  w = w.replace(/ch/g, 'kh');
  // Old "j" is today's "y" (Jusuf → Yusuf) and modern "j" (Joko) has old "dj"; folding both to y
  // makes the key tolerant of either, at the cost of rare collisions (Yoko / Joko).
  w = w.replace(/j/g, 'y');
  // Arabic-derived consonant spellings.
  w = w.replace(/kh/g, 'h').replace(/sy/g, 's').replace(/sh/g, 's').replace(/th/g, 't').replace(/dh/g, 'd');
  w = w.replace(/ph/g, 'f').replace(/[fv]/g, 'p').replace(/q/g, 'k').replace(/x/g, 'ks').replace(/z/g, 's');
  // Endings: Rizky / Rizki / Rizkie, Fatimah / Fatima.
  w = w.replace(/(?:ie|y|ey)$/, 'i');
  w = w.replace(/([aeiou])h$/, '$1');
  return w;
}

/**
 * The global lookup key of an identifier. A mother's NIK identifies a child
 * only together with the child's birth date and name (twins differ by name).
 */
export function personKey(id: PersonIdentifier, birthDate: string, name: string): string {
  switch (id.type) {
    case 'nik':
      return `nik:${id.value}`;
    case 'passport':
      return `passport:${id.country}:${id.value.toUpperCase()}`;
    case 'mother-nik':
      return `mother-nik:${id.value}:${birthDate}:${nameKey(name)}`;
    default:
      return id satisfies never;
  }
}
