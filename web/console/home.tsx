/** The console's start page (`/console`): who is signed in, and the pages of their role. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang, useTexts, type Texts } from '../lib/lang.ts';
import { Notice } from '../lib/ui.tsx';
import type { ConsolePage, PageProps } from './pages.ts';
import { watchCounts, type QueueCounts } from './queue.ts';
import { useWorkCounts } from './operator/common.tsx';
import { caseKindName } from './operator/words.ts';

const id = {
  title: 'Selamat datang, {name}',
  intro: 'Apa yang ingin Anda kerjakan?',
  pending: '{n} dosis di perangkat ini belum terkirim.',
  pendingLink: 'Lihat daftarnya',
  work: 'Perlu ditangani',
  workNone: 'Tidak ada kasus terbuka di daftar kerja Anda.',
  workItem: '{label}: {n}',
  tileCount: '{n} terbuka',
};
const en: typeof id = {
  title: 'Welcome, {name}',
  intro: 'What would you like to do?',
  pending: '{n} doses on this device are not sent yet.',
  pendingLink: 'See the list',
  work: 'Waiting for you',
  workNone: 'No open cases on your work lists.',
  workItem: '{label}: {n}',
  tileCount: '{n} open',
};
const TEXTS: Texts<keyof typeof id> = { id, en };

export function HomePage(props: PageProps & { pages: () => readonly ConsolePage[] }): VNode {
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const [counts, setCounts] = useState<QueueCounts>({ waiting: 0, rejected: 0, sent: 0 });
  useEffect(() => watchCounts(setCounts), []);
  const work = useWorkCounts(props.user);
  const waiting = work ? Object.entries(work.counts).filter(([, n]) => n > 0) : [];
  const total = waiting.reduce((sum, [, n]) => sum + n, 0);
  const pages = props.pages().filter((p) => p.nav && p.path !== '/console' && p.roles.includes(props.user.role));
  return (
    <>
      <h1>{t('title', { name: props.user.displayName })}</h1>
      <p class="lead">{t('intro')}</p>
      {counts.waiting + counts.rejected > 0 && (
        <Notice kind="warn">
          {t('pending', { n: counts.waiting + counts.rejected })} <a href="/console/pending">{t('pendingLink')}</a>
        </Notice>
      )}
      {work && !work.failed && (
        <section class="card home-work" aria-labelledby="home-work-title" data-testid="home-work">
          <h2 id="home-work-title">{t('work')}</h2>
          {waiting.length === 0 ? (
            <p>{t('workNone')}</p>
          ) : (
            <ul>
              {waiting.map(([kind, n]) => (
                <li key={kind} data-kind={kind}>
                  <a href={`/console/work?kind=${kind}`}>{t('workItem', { label: caseKindName(kind, lang), n: kind === 'dead_jobs' && work.deadJobsMore ? `${n}+` : n })}</a>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <ul class="tiles">
        {pages.map((p) => (
          <li key={p.path}>
            <a class="tile" href={p.path}>
              {p.nav![lang]}
              {p.path === '/console/work' && total > 0 && <span class="tile-count">{t('tileCount', { n: total })}</span>}
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}
