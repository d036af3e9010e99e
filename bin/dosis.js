#!/usr/bin/env node
// Entry for `npx dosis`: runs the TypeScript CLI on the Node 24 that npm puts first on PATH.
import('../src/cli/main.ts');
