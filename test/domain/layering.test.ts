// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.

/**
 * Who may import whom (issue 17 item 18): the vocabulary the server and the
 * pages share lives in browser-safe modules both import, masking lives in
 * domain/, and the certificate encoders do not know how doses are stored.
 * Read from the sources' import statements.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** Every relative import of a file, resolved to a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'([^']+)'/gms)) {
    const spec = m[1]!;
    out.push(spec.startsWith('.') ? normalize(join(dirname(file), spec)) : spec);
  }
  return out;
}

function offending(glob: string, bad: (target: string) => boolean): string[] {
  return globSync(glob).flatMap((f) => importsOf(f).filter(bad).map((t) => `${f} → ${t}`));
}

describe('layering', () => {
  it('certificates/ imports nothing from records/', () => {
    assert.deepEqual(offending('src/certificates/**/*.ts', (t) => t.startsWith('src/records/')), []);
  });

  it('access/ takes neither masking nor the person key from records/people.ts', () => {
    assert.deepEqual(offending('src/access/**/*.ts', (t) => t === 'src/records/people.ts'), []);
  });

  it('domain/ imports only domain/ (and no node: module)', () => {
    assert.deepEqual(offending('src/domain/**/*.ts', (t) => t.startsWith('node:') || (t.startsWith('src/') && !t.startsWith('src/domain/'))), []);
  });

  it('the shared vocabulary modules import no I/O (browser-safe)', () => {
    for (const f of ['src/domain/cases.ts', 'src/domain/masking.ts', 'src/certificates/holder-view.ts']) {
      assert.deepEqual(importsOf(f).filter((t) => t.startsWith('node:') || t.startsWith('src/db/')), [], f);
    }
  });

  it('the pages take case kinds, cases and the holder answer from the server\'s modules, not copies', () => {
    const copies = globSync('web/**/*.{ts,tsx}').filter((f) => {
      const text = readFileSync(f, 'utf8');
      return /interface (CaseView|HolderAnswer)\b/.test(text) || /\[\s*'claims_prior_dose',\s*'possible_duplicate'/.test(text);
    });
    assert.deepEqual(copies, []);
    // The work list takes its tabs from words.ts, which names the shared kinds.
    assert.ok(importsOf('web/console/operator/words.ts').includes('src/domain/cases.ts'));
    assert.ok(importsOf('web/console/operator/work.tsx').includes('web/console/operator/words.ts'));
    assert.ok(importsOf('web/lib/certificates.tsx').includes('src/certificates/holder-view.ts'));
  });
});
