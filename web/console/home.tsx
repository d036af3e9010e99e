/** The console's start page (`/console`): who is signed in, and the pages of their role. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang, useTexts, type Texts } from '../lib/lang.ts';
import { Notice } from '../lib/ui.tsx';
import type { ConsolePage, PageProps } from './pages.ts';
import { watchCounts, type QueueCounts } from './queue.ts';

const id = {
  title: 'Selamat datang, {name}',
  intro: 'Apa yang ingin Anda kerjakan?',
  pending: '{n} dosis di perangkat ini belum terkirim.',
  pendingLink: 'Lihat antrean',
};
const en: typeof id = {
  title: 'Welcome, {name}',
  intro: 'What would you like to do?',
  pending: '{n} doses on this device are not sent yet.',
  pendingLink: 'See the queue',
};
const TEXTS: Texts<keyof typeof id> = { id, en };

export function HomePage(props: PageProps & { pages: () => readonly ConsolePage[] }): VNode {
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const [counts, setCounts] = useState<QueueCounts>({ waiting: 0, rejected: 0, sent: 0 });
  useEffect(() => watchCounts(setCounts), []);
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
      <ul class="tiles">
        {pages.map((p) => (
          <li key={p.path}>
            <a class="tile" href={p.path}>
              {p.nav![lang]}
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}
