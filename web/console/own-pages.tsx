/** The console's own pages (the operator pages live in operator/): start page, record a dose, device queue, upload, staff accounts. */
import type { ConsolePage, PageProps } from './pages.ts';
import { HomePage } from './home.tsx';
import { recordPage } from './record.tsx';
import { pendingPage } from './pending.tsx';
import { uploadPage } from './upload.tsx';
import { accountsPage } from './accounts.tsx';
import { operatorPages } from './operator/index.ts';

const ALL_ROLES = ['facility', 'district', 'support', 'admin'] as const;

export const ownPages: ConsolePage[] = [
  {
    path: '/console',
    roles: ALL_ROLES,
    nav: { id: 'Beranda', en: 'Start' },
    render: (props: PageProps) => <HomePage {...props} pages={() => [...ownPages, ...operatorPages]} />,
  },
  recordPage,
  uploadPage,
  pendingPage,
  accountsPage,
];
