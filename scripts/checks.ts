/**
 * The typecheck and the lint in one process, on one TypeScript program per
 * tsconfig: `tsc --noEmit -p .` and `-p web` would each build theirs, and
 * typescript-eslint's project service would build both again to answer the
 * typed rules, checking the same files a second time. Here each program is
 * built once, its diagnostics are the typecheck, and ESLint is handed the same
 * programs (`parserOptions.programs`), so the typed rules ask a checker that
 * has already checked everything.
 *
 *   node scripts/checks.ts            typecheck (server and web) and lint (npm test runs this)
 *   node scripts/checks.ts typecheck  typecheck only (npm run typecheck)
 *   node scripts/checks.ts lint       lint only (npm run lint)
 *
 * The same checks as the tools run alone: the compiler options come from
 * tsconfig.json and web/tsconfig.json, the rules and the files from
 * eslint.config.js (which keeps the project service, for `npx eslint <file>`).
 * Type errors are reported as tsc reports them, lint problems with ESLint's
 * default formatter; any error exits non-zero, and each part ends with a line
 * saying whether it passed.
 */
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The projects, in the order typescript-eslint looks a file up in: a file in both belongs to the first (as with the project service, to its nearest tsconfig). */
const PROJECTS = [
  { name: 'typecheck', config: 'tsconfig.json' },
  { name: 'typecheck (web)', config: 'web/tsconfig.json' },
];

const parts = process.argv.slice(2);
for (const p of parts) {
  if (p !== 'typecheck' && p !== 'lint') {
    console.error(`Usage: node scripts/checks.ts [typecheck] [lint]  (unknown: ${p})`);
    process.exit(2);
  }
}
const typecheck = parts.length === 0 || parts.includes('typecheck');
const lint = parts.length === 0 || parts.includes('lint');

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => '\n',
};
// tsc's own choice: context and colour on a terminal, one line per error otherwise (as in npm test's summary).
const pretty = process.stdout.isTTY;
const seconds = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/** The program of one tsconfig, as `tsc -p` builds it. */
function programOf(config: string): ts.Program {
  const parsed = ts.getParsedCommandLineOfConfigFile(ROOT + config, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.formatDiagnostics([d], formatHost));
    },
  });
  if (parsed === undefined) throw new Error(`${config} could not be read`);
  return ts.createProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    projectReferences: parsed.projectReferences,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
}

/** The diagnostics `tsc --noEmit` reports, in its order: a stage runs only when the one before found nothing. */
function diagnosticsOf(program: ts.Program): readonly ts.Diagnostic[] {
  const all = [...program.getConfigFileParsingDiagnostics()];
  const beforeSyntax = all.length;
  all.push(...program.getSyntacticDiagnostics());
  if (all.length === beforeSyntax) {
    all.push(...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics());
    if (all.length === beforeSyntax) all.push(...program.getSemanticDiagnostics());
  }
  return ts.sortAndDeduplicateDiagnostics(all);
}

let ok = true;
const programs: ts.Program[] = [];
for (const project of PROJECTS) {
  const t0 = performance.now();
  const program = programOf(project.config);
  programs.push(program);
  if (!typecheck) continue;
  const diagnostics = diagnosticsOf(program);
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).length;
  if (diagnostics.length > 0) {
    process.stdout.write(pretty ? ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost) : ts.formatDiagnostics(diagnostics, formatHost));
  }
  if (errors > 0) ok = false;
  console.log(`${project.name}: ${errors === 0 ? 'passed' : `FAILED (${errors} error${errors > 1 ? 's' : ''})`} in ${seconds(t0)} (${program.getSourceFiles().length} files)`);
}

if (lint) {
  const t0 = performance.now();
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, programs } } },
  });
  const results = await eslint.lintFiles(['.']);
  const errors = results.reduce((n, r) => n + r.errorCount, 0);
  const formatted = await (await eslint.loadFormatter('stylish')).format(results);
  if (formatted !== '') process.stdout.write(formatted.endsWith('\n') ? formatted : formatted + '\n');
  if (errors > 0) ok = false;
  console.log(`lint: ${errors === 0 ? 'passed' : `FAILED (${errors} error${errors > 1 ? 's' : ''})`} in ${seconds(t0)} (${results.length} files)`);
}

process.exit(ok ? 0 : 1);
