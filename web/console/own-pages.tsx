/**
 * The console's own pages (the operator pages live in operator/): start page,
 * record a dose, doses not sent yet from this device, upload, staff accounts.
 * Each page's code is loaded when it is first opened.
 */
import type { ConsolePage, PageProps } from './pages.ts';
import { operatorPages } from './operator/index.ts';
import { GLOSSARY as G } from '../lib/glossary.ts';

const ALL_ROLES = ['facility', 'district', 'support', 'admin'] as const;
const ENTRY_ROLES = ['facility', 'district', 'admin'] as const;

export const ownPages: ConsolePage[] = [
  {
    path: '/console',
    roles: ALL_ROLES,
    nav: { id: 'Beranda', en: 'Start' },
    load: () => import('./home.tsx').then((m) => (props: PageProps) => <m.HomePage {...props} pages={() => [...ownPages, ...operatorPages]} />),
  },
  { path: '/console/record', roles: ENTRY_ROLES, nav: { id: 'Catat dosis', en: 'Record a dose' }, load: () => import('./record.tsx').then((m) => m.RecordPage) },
  { path: '/console/upload', roles: ENTRY_ROLES, nav: { id: 'Unggah berkas', en: 'Upload a file' }, load: () => import('./upload.tsx').then((m) => m.UploadPage) },
  { path: '/console/pending', roles: ENTRY_ROLES, nav: { id: G.id['device.notSent'], en: G.en['device.notSent'] }, load: () => import('./pending.tsx').then((m) => m.PendingPage) },
  { path: '/console/accounts', roles: ['admin'], nav: { id: 'Akun petugas', en: 'Staff accounts' }, load: () => import('./accounts.tsx').then((m) => m.AccountsPage) },
];
