/**
 * /console/people: find a person by NIK, by phone in any writing, or by name
 * (spelling variants folded by the API) with an optional birth date. The
 * search lives in the URL, so the back button returns to the results.
 * District users see identifiers masked, as the API answers them.
 */
import { formatRegionCode } from '../../../src/domain/regions.ts';
import { useState } from 'preact/hooks';
import type { PageProps } from '../pages.ts';
import { useTexts } from '../../lib/lang.ts';
import { GLOSSARY as G } from '../../lib/glossary.ts';
import { Link } from './link.tsx';
import { Load, useApi, withQuery, type PersonSummary } from './common.tsx';

const T = {
  id: {
    title: 'Cari orang',
    lead: `Cari dengan NIK, nomor HP (${G.id['phone.anyFormat']}), atau nama. Nama boleh salah eja; tanggal lahir mempersempit hasil.`,
    query: 'NIK, nomor HP, atau nama',
    by: 'Cari berdasarkan',
    auto: 'Otomatis',
    nik: 'NIK',
    phone: 'Nomor HP',
    name: 'Nama',
    birthDate: 'Tanggal lahir (tidak wajib)',
    reveal: 'Tampilkan NIK dan nomor HP lengkap (tercatat di log audit)',
    search: 'Cari',
    none: 'Tidak ada yang cocok di wilayah kerja Anda.',
    results: '{n} hasil',
    colName: 'Nama',
    colId: 'Identitas',
    colBirth: 'Tgl lahir',
    colPhone: 'HP',
    colDoses: 'Dosis',
    colRegion: 'Wilayah',
    masked: 'NIK dan nomor HP disamarkan untuk peran Anda.',
  },
  en: {
    title: 'Find a person',
    lead: `Search by NIK, phone number (${G.en['phone.anyFormat']}), or name. Names may be misspelt; a birth date narrows the results.`,
    query: 'NIK, phone number or name',
    by: 'Search by',
    auto: 'Automatic',
    nik: 'NIK',
    phone: 'Phone number',
    name: 'Name',
    birthDate: 'Birth date (optional)',
    reveal: 'Show full NIK and phone numbers (recorded in the audit log)',
    search: 'Search',
    none: 'No one matches within your scope.',
    results: '{n} results',
    colName: 'Name',
    colId: 'Identifier',
    colBirth: 'Born',
    colPhone: 'Phone',
    colDoses: 'Doses',
    colRegion: 'Region',
    masked: 'NIK and phone numbers are masked for your role.',
  },
};

type By = 'auto' | 'nik' | 'phone' | 'name';

/** What a typed query most likely is: 16 digits a NIK, a number with a phone prefix a phone, else a name. */
export function guessKind(q: string): Exclude<By, 'auto'> {
  const digits = q.replace(/[\s.\-()/]/g, '');
  if (/^\d{16}$/.test(digits)) return 'nik';
  if (/^(\+?62|0)\d{7,13}$/.test(digits)) return 'phone';
  return 'name';
}

export function SearchPage(props: PageProps) {
  const t = useTexts(T);
  const q = props.query.get('q') ?? '';
  const by = (props.query.get('by') ?? 'auto') as By;
  const birthDate = props.query.get('birthDate') ?? '';
  const reveal = props.query.get('reveal') === 'true';
  const [form, setForm] = useState({ q, by, birthDate, reveal });
  const kind = by === 'auto' ? guessKind(q) : by;
  const path = q.trim() ? withQuery('/api/v1/people', { [kind]: q.trim(), birthDate: kind === 'name' ? birthDate : null, reveal: reveal ? 'true' : null, limit: '50' }) : null;
  const found = useApi<{ people: PersonSummary[] }>(path);
  const submit = (e: Event): void => {
    e.preventDefault();
    props.navigate(withQuery('/console/people', { q: form.q.trim(), by: form.by === 'auto' ? null : form.by, birthDate: form.birthDate, reveal: form.reveal ? 'true' : null }));
  };
  return (
    <section class="op-page" aria-labelledby="op-search-title">
      <h1 id="op-search-title">{t('title')}</h1>
      <p class="lead">{t('lead')}</p>
      <form class="card op-search" role="search" onSubmit={submit}>
        <label class="field">
          <span class="label">{t('query')}</span>
          <input name="q" type="search" required autoComplete="off" value={form.q} onInput={(e) => setForm({ ...form, q: (e.target as HTMLInputElement).value })} />
        </label>
        <div class="op-row">
          <div class="field">
            <label class="label" for="op-search-by">
              {t('by')}
            </label>
            <select id="op-search-by" name="by" value={form.by} onChange={(e) => setForm({ ...form, by: (e.target as HTMLSelectElement).value as By })}>
              {(['auto', 'nik', 'phone', 'name'] as const).map((b) => (
                <option key={b} value={b}>
                  {t(b)}
                </option>
              ))}
            </select>
          </div>
          <label class="field">
            <span class="label">{t('birthDate')}</span>
            <input name="birthDate" type="date" value={form.birthDate} onInput={(e) => setForm({ ...form, birthDate: (e.target as HTMLInputElement).value })} />
          </label>
        </div>
        {props.user.role === 'support' && (
          <label class="op-check">
            <input type="checkbox" checked={form.reveal} onChange={(e) => setForm({ ...form, reveal: (e.target as HTMLInputElement).checked })} /> {t('reveal')}
          </label>
        )}
        <button type="submit" class="button">
          {t('search')}
        </button>
      </form>
      {path && (
        <Load l={found}>
          {({ people }) =>
            people.length === 0 ? (
              <p class="notice notice-info" role="status">
                {t('none')}
              </p>
            ) : (
              <div class="op-results">
                <p role="status">{t('results', { n: people.length })}</p>
                {people.some((p) => p.masked) && <p class="hint">{t('masked')}</p>}
                <div class="op-table-wrap">
                  <table class="op-table" data-testid="search-results">
                    <thead>
                      <tr>
                        <th scope="col">{t('colName')}</th>
                        <th scope="col">{t('colId')}</th>
                        <th scope="col">{t('colBirth')}</th>
                        <th scope="col">{t('colPhone')}</th>
                        <th scope="col">{t('colDoses')}</th>
                        <th scope="col">{t('colRegion')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {people.map((p) => (
                        <tr key={p.id}>
                          <td>
                            <Link to={`/console/people/${p.id}`} navigate={props.navigate}>
                              {p.name}
                            </Link>
                          </td>
                          <td class="mono">
                            {p.identifier.type === 'nik' ? '' : `${p.identifier.type} `}
                            {p.identifier.value}
                          </td>
                          <td>{p.birthDate}</td>
                          <td class="mono">{p.phone ?? '—'}</td>
                          <td>{p.doses}</td>
                          <td>{p.regionCode ? formatRegionCode(p.regionCode) : '—'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </div>
            )
          }
        </Load>
      )}
    </section>
  );
}
