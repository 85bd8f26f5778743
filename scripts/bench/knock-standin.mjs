#!/usr/bin/env node
// The Management API stand-in of the tests (test/support/knock-standin.ts), run as a process of
// its own for `npm run bench`: transpiled with TypeScript (a dev dependency) and started on
// 127.0.0.1. Prints {"url","stats"} as its first line: `url` is the API, `stats` answers
// with the calls counted since the last POST (writes and reads); a POST also starts a new count.
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const source = fileURLToPath(new URL('../../test/support/knock-standin.ts', import.meta.url));
const js = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
const file = join(mkdtempSync(join(tmpdir(), 'knock-standin-')), 'knock-standin.mjs');
writeFileSync(file, js);
const { KnockStandin } = await import(pathToFileURL(file).href);

const standin = await new KnockStandin({ token: process.env.KNOCK_SERVICE_TOKEN ?? 'sk_bench' }).start();
const stats = createServer((req, res) => {
  const counts = { writes: standin.writes().length, reads: standin.reads().length };
  if (req.method === 'POST') standin.resetCalls();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(counts));
});
await new Promise((resolve) => stats.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ url: standin.url, stats: `http://127.0.0.1:${stats.address().port}` })}\n`);
process.on('SIGTERM', () => process.exit(0));
