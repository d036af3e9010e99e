/** The text Dosis accepts (domain/text.ts): one check for every input string. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { textFault, textFaults } from '../../src/domain/text.ts';

it('textFault: unpaired surrogates, controls and bidirectional controls anywhere; invisible characters in names', () => {
  for (const s of ['Budi Santoso', 'Nguyễn Văn A', 'Ma’ruf', 'baris satu\nbaris dua\tdengan tab\r', '😷 vaksin', 'محمد']) assert.equal(textFault(s, { name: true }), null, s);
  assert.equal(textFault('a\uD800b'), 'lone_surrogate');
  assert.equal(textFault('\uDC00'), 'lone_surrogate');
  assert.equal(textFault('a\u0000'), 'control_character');
  assert.equal(textFault('a\u0085'), 'control_character');
  assert.equal(textFault('a\u007F'), 'control_character');
  for (const c of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C']) assert.equal(textFault(`Budi ${c}x`), 'bidi_control', c);
  for (const c of ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u3164', '\u115F', '\uFE0F', '\u034F', '\u{E0041}']) {
    assert.equal(textFault(`Bu${c}di`, { name: true }), 'invisible_character', c.codePointAt(0)!.toString(16));
    assert.equal(textFault(`Bu${c}di`), null, 'only names refuse invisible characters');
  }
});

it('textFaults: every fault of a body or query, by its path, the message naming the field', () => {
  const faults = textFaults({ person: { name: 'Bu\u200Bdi', nik: '3171\u0000' }, lot: 'A\uD800', list: ['ok', '\u202E'], note: 'Bu\u200Bdi' });
  assert.deepEqual(
    faults.map((f) => [f.path, f.code]),
    [
      ['person.name', 'invisible_character'],
      ['person.nik', 'control_character'],
      ['lot', 'lone_surrogate'],
      ['list[1]', 'bidi_control'],
    ],
  );
  assert.ok(faults.every((f) => f.message.en.startsWith(f.path) && f.message.id.startsWith(f.path)));
  assert.deepEqual(textFaults('\u0000'), [{ path: '(body)', code: 'control_character', message: textFaults('\u0000')[0]!.message }]);
});
