/** Upload (`/console/upload`): placeholder until the upload page is built. */
import type { PageProps } from './pages.ts';

export const uploadPage = {
  path: '/console/upload',
  roles: ['facility', 'district', 'admin'] as const,
  nav: { id: 'Unggah berkas', en: 'Upload a file' },
  render: (_props: PageProps) => <h1>Upload</h1>,
};
