/**
 * The browser's `idn-area-data` (scripts/vite-config.ts aliases the package
 * here for the pages): the package's own loader reads its CSV with node:fs,
 * so in the browser the same CSV file of the package is bundled as text and
 * parsed here. src/domain/nik.ts thus runs unchanged in the console, with the
 * same province list as the server.
 */
import provincesCsv from '../../node_modules/idn-area-data/data/provinces.csv?raw';

export interface Province {
  code: string;
  name: string;
}

/** The provinces, as the package's `getProvinces()` gives them. */
export async function getProvinces(): Promise<Province[]> {
  return provincesCsv
    .split(/\r?\n/)
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const i = line.indexOf(',');
      return { code: line.slice(0, i), name: line.slice(i + 1).replace(/^"|"$/g, '') };
    });
}
