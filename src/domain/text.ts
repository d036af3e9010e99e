/**
 * Text that Dosis accepts at all: the one check every input string passes
 * (the HTTP app runs it over every body, query and path parameter before a
 * route sees them; the entry validator runs it over every field of a CSV or
 * XLSX row). Bad text is refused here with a 4xx naming the field, instead
 * of failing deep inside as a 500:
 *
 * - an unpaired UTF-16 surrogate has no UTF-8 form (PostgreSQL, CBOR and the
 *   PDF writer each fail on it differently);
 * - NUL cannot be stored in a PostgreSQL text, and other control characters
 *   (except TAB, LF and CR in free text) only ever mean a broken client;
 * - bidirectional controls (U+202A–202E, U+2066–2069, U+200E/200F, U+061C)
 *   reverse how a text and what follows it are shown: in an SMS they can make
 *   a name read differently or hide where its link points (Trojan Source);
 * - in a name, any other invisible character (zero-width spaces and joiners,
 *   soft hyphen, BOM, Hangul fillers, …): two names that look the same must
 *   be the same name, or search, matching and people reading a list are fooled.
 */
import { issue, type FieldIssue } from './errors.ts';

export type TextFault = 'lone_surrogate' | 'control_character' | 'bidi_control' | 'invisible_character';

/** A high surrogate not followed by a low one, or a low one not after a high one (String.isWellFormed, which older browsers lack: the console runs this too). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** C0 controls but TAB, LF and CR; DEL; C1 controls. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
/** Format characters (zero-width, soft hyphen, BOM, tags …), fillers that render as nothing, variation selectors. */
const INVISIBLE = /[\p{Cf}\u115F\u1160\u3164\uFFA0]|\p{Variation_Selector}|\u034F/u;

/** The first fault of `s`, or null; `name` adds the stricter rule for people's names. */
export function textFault(s: string, opts: { name?: boolean } = {}): TextFault | null {
  if (LONE_SURROGATE.test(s)) return 'lone_surrogate';
  if (hasControl(s)) return 'control_character';
  if (BIDI.test(s)) return 'bidi_control';
  if (opts.name && INVISIBLE.test(s)) return 'invisible_character';
  return null;
}

const MESSAGES: Record<TextFault, { en: string; id: string }> = {
  lone_surrogate: { en: 'is not valid Unicode text (an unpaired surrogate)', id: 'bukan teks Unicode yang valid (surrogate tanpa pasangan)' },
  control_character: { en: 'contains a control character (such as NUL)', id: 'memuat karakter kontrol (seperti NUL)' },
  bidi_control: { en: 'contains a bidirectional control character (U+202A–202E, U+2066–2069)', id: 'memuat karakter kontrol arah teks (U+202A–202E, U+2066–2069)' },
  invisible_character: { en: 'contains an invisible character (zero-width or similar)', id: 'memuat karakter tak terlihat (lebar nol atau sejenisnya)' },
};

/** The issue for a fault of the field at `path`; its message names the field. */
export function textIssue(path: string, fault: TextFault): FieldIssue {
  const m = MESSAGES[fault];
  return issue(path, fault, `${path} ${m.en}.`, `${path} ${m.id}.`);
}

/**
 * A parsed JSON object or a query/params object (fastify makes those from a
 * prototype that itself has none); never a stream, buffer or class instance.
 */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/** Keys whose values are people's (or staff members') names: the stricter rule. */
const NAME_KEYS = new Set(['name', 'displayName', 'username', 'givenName', 'familyName']);

/**
 * Every text fault in a parsed JSON value (or query/params object), each
 * with its dotted path under `prefix`. Walks at most `budget` values so a
 * huge body cannot make the walk itself expensive (the body limit bounds it anyway).
 */
export function textFaults(value: unknown, prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  let budget = 100_000;
  const walk = (v: unknown, path: string, key: string): void => {
    if (--budget < 0 || out.length >= 20) return;
    if (typeof v === 'string') {
      const f = textFault(v, { name: NAME_KEYS.has(key) });
      if (f) out.push(textIssue(path || '(body)', f));
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`, key));
    } else if (isPlainObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        const kf = textFault(k);
        if (kf) out.push(textIssue(path ? `${path}.(key)` : '(key)', kf));
        else walk(x, path ? `${path}.${k}` : k, k);
      }
    }
  };
  walk(value, prefix, '');
  return out;
}
