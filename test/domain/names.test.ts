// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nameKey, normalizeName } from '../../src/domain/names.ts';

describe('normalizeName', () => {
  it('lower-cases, strips diacritics and punctuation, collapses spaces', () => {
    assert.equal(normalizeName('  BUDI   Santoso '), 'budi santoso');
    assert.equal(normalizeName('René Désirée'), 'rene desiree');
    assert.equal(normalizeName("Ma'ruf Amin"), 'maruf amin');
    assert.equal(normalizeName('Siti-Nurhaliza, S.Pd.'), 'siti nurhaliza s pd');
    assert.equal(normalizeName('I Gusti Ngurah  Rai'), 'i gusti ngurah rai');
    assert.equal(normalizeName('Ni\u0301ken'), 'niken'); // combining acute
  });
});

/** Each group is one name written differently; every member must share the key. */
const SAME: string[][] = [
  ['Muhammad Rizki', 'Muhamad Rizki', 'Mohammad Rizki', 'Mohamad Rizki', 'Mochammad Rizki', 'Mochamad Rizky', 'Moh. Rizki', 'M. Rizki', 'Muh Rizkie', 'MUHAMMAD RIZKI', 'Mohammed Rizki'],
  ['Soekarno', 'Sukarno'],
  ['Djoko Widodo', 'Joko Widodo'],
  ['Tjahjo Kumolo', 'Cahyo Kumolo'],
  ['Jusuf Kalla', 'Yusuf Kalla', 'Yusup Kalla'],
  ['Sjahrir', 'Syahrir'],
  ['Chairul Tanjung', 'Khairul Tanjung', 'Hairul Tanjung'],
  ['Achmad Yani', 'Ahmad Yani', 'Akhmad Yani'],
  ['Nur Aini', 'Nuraini', 'Nur  Aini'],
  ['Abdul Rahman', 'Abdurrahman', 'Abdurahman', 'Abdulrahman'],
  ['Abdullah', 'Abdulah'],
  ['Fatimah Azzahra', 'Fatima Az-Zahra', 'Fatimah Az Zahra'],
  ['Siti Aisyah', 'Siti Aisah', 'Siti Aisya'],
  ['Taufik Hidayat', 'Taufiq Hidayat'],
  ['Arif Budiman', 'Arip Budiman'],
  ['Ramadhan', 'Ramadan'],
  ['Njoman Sudarta', 'Nyoman Sudarta'],
  ['Hj. Siti Aminah', 'Siti Aminah', 'Dra. Siti Aminah'],
  ['Budi Santoso, S.Kom., M.Kes.', 'Budi Santoso'],
  ['Wahju Hidajat', 'Wahyu Hidayat'],
];

/** Different people: must not share the key. */
const DIFFERENT: [string, string][] = [
  ['Budi Santoso', 'Budi Susanto'],
  ['Siti Aminah', 'Siti Rahmah'],
  ['Muhammad Rizki', 'Ahmad Rizki'],
  ['Mahmud', 'Muhammad'],
  ['Dewi Lestari', 'Dewi Sartika'],
  ['Agus', 'Agung'],
  ['Putri', 'Putra'],
  ['Muhammad Rizki', 'Rizki'],
];

describe('nameKey', () => {
  for (const group of SAME) {
    it(`folds ${group.join(' / ')}`, () => {
      const keys = new Set(group.map(nameKey));
      assert.equal(keys.size, 1, `${group.map((n) => `${n} → ${nameKey(n)}`).join('; ')}`);
    });
  }

  for (const [a, b] of DIFFERENT) {
    it(`keeps "${a}" and "${b}" apart`, () => {
      assert.notEqual(nameKey(a), nameKey(b));
    });
  }

  it('keeps a single-letter name and a single name as they are', () => {
    assert.equal(nameKey('Sukarni'), 'sukarni');
    assert.equal(nameKey('M'), 'm');
  });

  it('is empty for a name without letters or digits', () => {
    assert.equal(nameKey(' -- '), '');
  });
});
