import { readFileSync } from 'node:fs';
import { createPglite } from '../src/db/open.ts';
import { migratedTemplatePath } from '../test/helpers/pglite-template.ts';
const lite = await createPglite(undefined, new Blob([readFileSync(migratedTemplatePath())]));
await lite.exec('select 1');
const t0 = Date.now();
if (process.argv[2] === 'close') await lite.close();
process.on('exit', () => console.log('exit after', Date.now() - t0, 'ms'));
setInterval(() => console.log('alive', Date.now() - t0, process.getActiveResourcesInfo().join(',')), 5000).unref();
