/**
 * The doses kept on this device (`/console/pending`): how many wait, those the
 * server refused with its reasons (fix or discard), and those sent with
 * their certificates.
 */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang, useOnline, useTexts, type Texts } from '../lib/lang.ts';
import { GLOSSARY as G, lower } from '../lib/glossary.ts';
import { Notice } from '../lib/ui.tsx';
import { formatDate } from '../../src/certificates/display.ts';
import type { PageProps } from './pages.ts';
import { clearSent, discard, listEntries, syncNow, watchCounts, type QueuedEntry } from './queue.ts';

const id = {
  title: `Dosis ${lower(G.id['device.notSent'])}`,
  intro: 'Dosis yang dicatat tanpa internet disimpan di perangkat ini dan dikirim otomatis saat internet kembali. Dosis yang terkirim dua kali tetap tercatat satu kali.',
  waiting: G.id['sms.queued'],
  rejected: 'Ditolak server — perbaiki atau buang',
  sent: 'Terkirim',
  none: 'Tidak ada dosis di perangkat ini.',
  sendNow: 'Kirim sekarang',
  sending: 'Mengirim…',
  offline: 'Luring: akan dikirim saat internet kembali.',
  tries: 'dicoba {n} kali',
  fix: 'Perbaiki',
  discard: 'Buang',
  confirmDiscard: 'Buang dosis ini dari perangkat? Dosis ini belum tercatat di server.',
  clearSent: 'Hapus daftar terkirim',
  dose: 'dosis {n}',
  certificate: 'Sertifikat',
};
const en: typeof id = {
  title: `Doses ${lower(G.en['device.notSent'])}`,
  intro: 'Doses recorded without internet are kept on this device and sent automatically when the internet is back. A dose sent twice is still recorded once.',
  waiting: G.en['sms.queued'],
  rejected: 'Refused by the server — fix or discard',
  sent: 'Sent',
  none: 'No doses on this device.',
  sendNow: 'Send now',
  sending: 'Sending…',
  offline: 'Offline: they are sent when the internet is back.',
  tries: 'tried {n} times',
  fix: 'Fix',
  discard: 'Discard',
  confirmDiscard: 'Discard this dose from the device? It is not recorded on the server.',
  clearSent: 'Clear the sent list',
  dose: 'dose {n}',
  certificate: 'Certificate',
};
const TEXTS: Texts<keyof typeof id> = { id, en };

export function PendingPage(props: PageProps): VNode {
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const online = useOnline();
  const [entries, setEntries] = useState<QueuedEntry[]>([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => watchCounts(() => void listEntries().then((all) => setEntries(all.filter((e) => e.userId === props.user.id)))), [props.user.id]);
  const waiting = entries.filter((e) => e.state === 'waiting');
  const rejected = entries.filter((e) => e.state === 'rejected');
  const sent = entries.filter((e) => e.state === 'sent');
  const line = (e: QueuedEntry) => (
    <span>
      <strong>{e.body.person.name || '—'}</strong> · <span class="mono">{e.body.person.nik ?? e.body.person.identifier?.value}</span> · {e.body.vaccine} {t('dose', { n: e.body.doseNumber })} · {formatDate(e.body.date, lang)}
    </span>
  );
  return (
    <>
      <h1>{t('title')}</h1>
      <p class="lead">{t('intro')}</p>
      {entries.length === 0 && <Notice kind="info">{t('none')}</Notice>}
      {waiting.length > 0 && (
        <section class="card" aria-labelledby="waiting-h">
          <h2 id="waiting-h">
            {t('waiting')} <span class="count" data-testid="waiting-count">{waiting.length}</span>
          </h2>
          {!online && <p class="hint">{t('offline')}</p>}
          <ul class="entry-list">
            {waiting.map((e) => (
              <li key={e.key} data-testid="waiting-entry">
                {line(e)} {e.attempts > 0 && <span class="hint">({t('tries', { n: e.attempts })})</span>}
              </li>
            ))}
          </ul>
          <button
            type="button"
            class="button"
            disabled={busy || !online}
            onClick={() => {
              setBusy(true);
              void syncNow(props.user.id).finally(() => setBusy(false));
            }}
          >
            {busy ? t('sending') : t('sendNow')}
          </button>
        </section>
      )}
      {rejected.length > 0 && (
        <section class="card" aria-labelledby="rejected-h">
          <h2 id="rejected-h">
            {t('rejected')} <span class="count bad" data-testid="rejected-count">{rejected.length}</span>
          </h2>
          <ul class="entry-list">
            {rejected.map((e) => (
              <li key={e.key} data-testid="rejected-entry">
                {line(e)}
                <div class="reasons" role="note">
                  <p>{e.error?.message}</p>
                  {e.error && e.error.fields.length > 0 && (
                    <ul>
                      {e.error.fields.map((f) => (
                        <li key={f.path}>
                          <code>{f.path}</code>: {f.message}
                        </li>
                      ))}
                    </ul>
                  )}
                </div>
                <div class="actions">
                  <a class="button secondary" href={`/console/record?fix=${encodeURIComponent(e.key)}`}>
                    {t('fix')}
                  </a>
                  <button type="button" class="button secondary danger" onClick={() => confirm(t('confirmDiscard')) && void discard(e.key)}>
                    {t('discard')}
                  </button>
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
      {sent.length > 0 && (
        <section class="card" aria-labelledby="sent-h">
          <h2 id="sent-h">
            {t('sent')} <span class="count ok" data-testid="sent-count">{sent.length}</span>
          </h2>
          <ul class="entry-list">
            {sent.map((e) => (
              <li key={e.key} data-testid="sent-entry">
                {line(e)} ·{' '}
                <a href={e.answer?.certificate?.link} target="_blank" rel="noopener noreferrer" class="mono">
                  {e.answer?.certificate?.uvci ?? e.answer?.vaccination.held}
                </a>
              </li>
            ))}
          </ul>
          <button type="button" class="button secondary" onClick={() => void clearSent()}>
            {t('clearSent')}
          </button>
        </section>
      )}
    </>
  );
}
