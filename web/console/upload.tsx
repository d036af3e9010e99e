/**
 * Upload (`/console/upload`): a CSV or XLSX file of doses to
 * `POST /api/v1/imports` (the file itself is the body), then its progress by
 * polling `GET /api/v1/imports/{id}` — rows read, recorded, rejected, already
 * recorded — and the rejected rows with their reasons as `errors.csv`.
 */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang, useTexts, type Texts } from '../lib/lang.ts';
import { Facts, Notice } from '../lib/ui.tsx';
import { api, ApiError, apiHeaders, type FieldProblem } from './api.ts';
import type { PageProps } from './pages.ts';
import { useFacilities } from './record.tsx';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const POLL_MS = 1000;

const id = {
  title: 'Unggah Berkas',
  intro: 'Unggah formulir yang sudah diketik sebagai CSV atau XLSX. Setiap baris dicatat seperti satu isian, dengan sertifikat dan SMS-nya. Baris yang benar tetap dicatat walau ada baris yang salah; setiap baris yang salah dijelaskan. Mengunggah berkas yang sama lagi tidak mencatat apa pun dua kali.',
  file: 'Berkas (CSV atau XLSX)',
  fileHint: 'Kolom: NIK, Nama, Tanggal Lahir, Jenis Kelamin, No HP, Vaksin, Dosis, Tanggal Vaksinasi, No Batch (dan Kode Faskes untuk berkas dinas).',
  facility: 'Faskes untuk baris tanpa Kode Faskes',
  facilityNone: '— dari kolom Kode Faskes —',
  flagPhone: 'Catat juga baris dengan nomor HP yang tidak dapat dipakai (orangnya masuk daftar kerja nomor HP)',
  upload: 'Unggah',
  uploading: 'Mengunggah… {pct}%',
  chooseFirst: 'Pilih berkas terlebih dahulu.',
  refused: 'Berkas ditolak:',
  status: 'Status',
  running: 'sedang diproses',
  done: 'selesai',
  failed: 'gagal',
  rows: 'Baris dibaca',
  accepted: 'Dicatat',
  rejected: 'Ditolak',
  alreadyRecorded: 'Sudah tercatat sebelumnya',
  speed: 'Kecepatan',
  perSecond: '{n} baris/detik',
  eta: 'Perkiraan selesai',
  seconds: '{n} detik lagi',
  errors: 'Unduh baris yang ditolak (errors.csv)',
  errorsHint: 'Setiap baris dengan nomor barisnya dan semua alasannya. Perbaiki di sana lalu unggah lagi.',
  ignored: 'Kolom yang diabaikan: {cols}',
  another: 'Unggah berkas lain',
  progress: 'Kemajuan impor',
  template: 'Contoh berkas dengan judul kolom yang benar:',
  templateCsv: 'Templat CSV',
  templateXlsx: 'Templat Excel (XLSX)',
  rejectedRows: 'Baris yang ditolak',
  line: 'Baris {n}',
  empty: '(kosong)',
  moreRows: 'Baris ditolak lainnya ada di errors.csv.',
};
const en: typeof id = {
  title: 'Upload a File',
  intro: 'Upload typed-up forms as CSV or XLSX. Each row is recorded as a single entry would be, with its certificate and SMS. Good rows are recorded even when others are bad; every bad row is explained. Uploading the same file again records nothing twice.',
  file: 'File (CSV or XLSX)',
  fileHint: 'Columns: NIK, Nama, Tanggal Lahir, Jenis Kelamin, No HP, Vaksin, Dosis, Tanggal Vaksinasi, No Batch (and Kode Faskes for district files).',
  facility: 'Facility for rows without a Kode Faskes',
  facilityNone: '— from the Kode Faskes column —',
  flagPhone: 'Also record rows whose mobile number cannot be used (the person goes on the phone work list)',
  upload: 'Upload',
  uploading: 'Uploading… {pct}%',
  chooseFirst: 'Choose a file first.',
  refused: 'The file was refused:',
  status: 'Status',
  running: 'running',
  done: 'done',
  failed: 'failed',
  rows: 'Rows read',
  accepted: 'Recorded',
  rejected: 'Rejected',
  alreadyRecorded: 'Already recorded before',
  speed: 'Speed',
  perSecond: '{n} rows/second',
  eta: 'Expected to finish',
  seconds: 'in {n} seconds',
  errors: 'Download the rejected rows (errors.csv)',
  errorsHint: 'Each row with its line number and every reason. Fix them there and upload again.',
  ignored: 'Columns ignored: {cols}',
  another: 'Upload another file',
  progress: 'Import progress',
  template: 'A file with the right column headers:',
  templateCsv: 'CSV template',
  templateXlsx: 'Excel template (XLSX)',
  rejectedRows: 'Rejected rows',
  line: 'Line {n}',
  empty: '(empty)',
  moreRows: 'More rejected rows are in errors.csv.',
};
const TEXTS: Texts<keyof typeof id> = { id, en };

interface ImportStatus {
  id: string;
  status: 'running' | 'done' | 'failed';
  fileName: string | null;
  rows: number;
  rowsTotal: number | null;
  accepted: number;
  rejected: number;
  alreadyRecorded: number;
  progress: number | null;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  ignoredColumns: string[];
  reason: { code: string; message: string } | null;
}

/** A rejected row as `GET /api/v1/imports/{id}/errors` answers it, reasons in the console's language. */
interface RejectedRow {
  line: number;
  reasons: { column: string; value: string | null; code: string; message: string }[];
}

/** The first rejected rows of an import (the rest in errors.csv), fetched again when the count grows. */
function RejectedRows(props: { importId: string; count: number }): VNode | null {
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const [page, setPage] = useState<{ rows: RejectedRow[]; more: boolean } | null>(null);
  useEffect(() => {
    if (props.count === 0) return;
    api<{ rows: RejectedRow[]; more: boolean }>('GET', `/api/v1/imports/${encodeURIComponent(props.importId)}/errors?limit=100`)
      .then(setPage)
      .catch(() => undefined);
  }, [props.importId, props.count, lang]);
  if (!page || page.rows.length === 0) return null;
  return (
    <section aria-labelledby="rejected-h" data-testid="rejected-rows">
      <h3 id="rejected-h">{t('rejectedRows')}</h3>
      <ul>
        {page.rows.map((r) => (
          <li key={r.line} data-testid="rejected-row" data-line={r.line}>
            <strong>{t('line', { n: r.line })}</strong>
            <ul>
              {r.reasons.map((x, i) => (
                <li key={i}>
                  {x.column && (
                    <>
                      <span class="mono">{x.column}</span>
                      {x.value !== null && <> “{x.value === '' ? t('empty') : x.value}”</>}:{' '}
                    </>
                  )}
                  {x.message}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      {page.more && <p class="hint">{t('moreRows')}</p>}
    </section>
  );
}

/** Sends the file as the request body (XMLHttpRequest: it reports upload progress). */
function uploadFile(file: File, query: URLSearchParams, onProgress: (fraction: number) => void): Promise<ImportStatus> {
  const type = /\.xlsx$/i.test(file.name) ? XLSX_TYPE : 'text/csv';
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/imports?${query.toString()}`);
    for (const [k, v] of Object.entries(apiHeaders('POST', { 'content-type': type }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string; fields?: FieldProblem[] } } & Partial<ImportStatus> = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // Not JSON: reported by status below.
      }
      if (xhr.status === 202) resolve(body as ImportStatus);
      else reject(new ApiError(xhr.status, body.error?.code ?? `http_${xhr.status}`, body.error?.message ?? xhr.statusText, body.error?.fields ?? []));
    };
    xhr.send(file);
  });
}

export function UploadPage(props: PageProps): VNode {
  const { user } = props;
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const facilities = useFacilities(user);
  const [file, setFile] = useState<File | null>(null);
  const [facility, setFacility] = useState('');
  const [flag, setFlag] = useState(false);
  const [sending, setSending] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [status, setStatus] = useState<ImportStatus | null>(null);

  // Follow the import until it is done (or failed).
  useEffect(() => {
    if (!status || status.status !== 'running') return;
    const timer = setTimeout(() => {
      api<ImportStatus>('GET', `/api/v1/imports/${encodeURIComponent(status.id)}`)
        .then(setStatus)
        .catch(() => setStatus({ ...status }));
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [status]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (!file) {
      setError(t('chooseFirst'));
      return;
    }
    const q = new URLSearchParams({ fileName: file.name });
    if (facility) q.set('facility', facility);
    if (flag) q.set('invalidPhone', 'flag');
    setSending(0);
    try {
      setStatus(await uploadFile(file, q, setSending));
    } catch (err) {
      setError(err instanceof ApiError ? err : String(err));
    } finally {
      setSending(null);
    }
  };

  if (status) {
    const pct = status.progress === null ? null : Math.round(status.progress * 100);
    return (
      <>
        <h1>{t('title')}</h1>
        <section class="card" aria-labelledby="import-h" data-testid="import-status" data-status={status.status}>
          <h2 id="import-h">{status.fileName ?? status.id}</h2>
          <progress class="progress" max={100} value={status.status === 'running' ? (pct ?? undefined) : 100} aria-label={t('progress')} />
          <Facts
            rows={[
              [t('status'), <span data-testid="import-state">{t(status.status)}</span>],
              [t('rows'), status.rowsTotal === null ? String(status.rows) : `${status.rows} / ${status.rowsTotal}`],
              [t('accepted'), <span data-testid="import-accepted">{status.accepted}</span>],
              [t('rejected'), <span data-testid="import-rejected">{status.rejected}</span>],
              [t('alreadyRecorded'), <span data-testid="import-already">{status.alreadyRecorded}</span>],
              ...(status.status === 'running' && status.rowsPerSecond ? [[t('speed'), t('perSecond', { n: Math.round(status.rowsPerSecond) })] as [string, string]] : []),
              ...(status.status === 'running' && status.etaSeconds !== null ? [[t('eta'), t('seconds', { n: Math.ceil(status.etaSeconds) })] as [string, string]] : []),
            ]}
          />
          {status.reason && <Notice kind="error">{status.reason.message}</Notice>}
          {status.ignoredColumns.length > 0 && <p class="hint">{t('ignored', { cols: status.ignoredColumns.join(', ') })}</p>}
          {status.rejected > 0 && (
            <p>
              <a class="button block" href={`/api/v1/imports/${encodeURIComponent(status.id)}/errors.csv?lang=${lang}`} download data-testid="errors-link">
                {t('errors')}
              </a>
              <span class="hint">{t('errorsHint')}</span>
            </p>
          )}
          {status.rejected > 0 && <RejectedRows importId={status.id} count={status.rejected} />}
        </section>
        <button
          type="button"
          class="button secondary"
          onClick={() => {
            setStatus(null);
            setFile(null);
          }}
        >
          {t('another')}
        </button>
      </>
    );
  }

  return (
    <>
      <h1>{t('title')}</h1>
      <p class="lead">{t('intro')}</p>
      <p data-testid="templates">
        {t('template')}{' '}
        <a href="/api/v1/imports/template.csv" download data-testid="template-csv">
          {t('templateCsv')}
        </a>
        {' · '}
        <a href="/api/v1/imports/template.xlsx" download data-testid="template-xlsx">
          {t('templateXlsx')}
        </a>
      </p>
      <form class="card" onSubmit={(e) => void submit(e)} noValidate>
        <div class="field">
          <label class="label" for="upload-file">
            {t('file')}
          </label>
          <span class="hint" id="upload-file-hint">
            {t('fileHint')}
          </span>
          <input id="upload-file" type="file" accept=".csv,.xlsx,text/csv" aria-describedby="upload-file-hint" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        </div>
        {user.role !== 'facility' && (
          <div class="field">
            <label class="label" for="upload-facility">
              {t('facility')}
            </label>
            <select id="upload-facility" value={facility} onChange={(e) => setFacility(e.currentTarget.value)}>
              <option value="">{t('facilityNone')}</option>
              {facilities.map((f) => (
                <option key={f.code} value={f.code}>
                  {f.name} ({f.code})
                </option>
              ))}
            </select>
          </div>
        )}
        <label class="check">
          <input type="checkbox" checked={flag} onChange={(e) => setFlag(e.currentTarget.checked)} /> {t('flagPhone')}
        </label>
        {error && (
          <Notice kind="error">
            <span data-testid="upload-error">{typeof error === 'string' ? error : `${t('refused')} ${error.message}`}</span>
            {typeof error !== 'string' && error.fields.length > 0 && (
              <ul>
                {error.fields.map((f) => (
                  <li key={f.path}>{f.message}</li>
                ))}
              </ul>
            )}
          </Notice>
        )}
        <button type="submit" class="button block" disabled={sending !== null}>
          {sending !== null ? t('uploading', { pct: Math.round(sending * 100) }) : t('upload')}
        </button>
      </form>
    </>
  );
}
