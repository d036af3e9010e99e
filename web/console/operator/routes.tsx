/**
 * The operator pages and who may open them. Each lists the roles whose API
 * scope lets them use it; the pages show an action only to the roles the API
 * accepts it from.
 */
import type { ConsolePage } from '../pages.ts';
import { GLOSSARY as G } from '../../lib/glossary.ts';
import { SearchPage } from './search.tsx';
import { TimelinePage } from './timeline.tsx';
import { WorkPage } from './work.tsx';
import { DashboardPage } from './dashboard.tsx';
import { CorrectionsPage } from './corrections.tsx';
import { DoseRequestsPage } from './dose-requests.tsx';

export const operatorRoutes: ConsolePage[] = [
  { path: '/console/people', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Cari orang', en: 'Find a person' }, render: (p) => <SearchPage {...p} /> },
  { path: '/console/people/:id', roles: ['facility', 'district', 'support', 'admin'], render: (p) => <TimelinePage {...p} /> },
  { path: '/console/work', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Daftar kerja', en: 'Work lists' }, render: (p) => <WorkPage {...p} /> },
  { path: '/console/dose-requests', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Dosis hilang', en: 'Missing doses' }, render: (p) => <DoseRequestsPage {...p} /> },
  { path: '/console/corrections', roles: ['support', 'admin'], nav: { id: 'Ganti nomor HP', en: 'Phone changes' }, render: (p) => <CorrectionsPage {...p} /> },
  { path: '/console/dashboard', roles: ['facility', 'district', 'support', 'admin'], nav: { id: G.id['overview.nav'], en: G.en['overview.nav'] }, render: (p) => <DashboardPage {...p} /> },
];
