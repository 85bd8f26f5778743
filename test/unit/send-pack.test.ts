import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { GitStore } from '../../src/core/git/objects.js';
import { FLUSH, objectsToSend, parseAdvertisement, parseReport, pktLine, writePack } from '../../src/core/remote/send-pack.js';
import { diskFs, git, GIT_ENV, tempDir } from '../helpers/repo.js';

async function repoWithHistory(): Promise<{ dir: string; store: GitStore; base: string; tip: string }> {
  const dir = await tempDir();
  await git(dir, 'init', '-q');
  for (let i = 0; i < 50; i++) {
    await mkdir(join(dir, `workflows/wf-${i}`), { recursive: true });
    await writeFile(join(dir, `workflows/wf-${i}/workflow.yaml`), `name: wf ${i}\n`);
  }
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'base');
  const base = await git(dir, 'rev-parse', 'HEAD');
  await writeFile(join(dir, 'workflows/wf-7/workflow.yaml'), 'name: changed\n');
  await git(dir, 'commit', '-q', '-am', 'change one');
  return { dir, store: { fs: diskFs, gitdir: join(dir, '.git'), cache: {} }, base, tip: await git(dir, 'rev-parse', 'HEAD') };
}

describe('send-pack', () => {
  it('sends only what a commit changes against what the remote has', async () => {
    const { dir, store, base, tip } = await repoWithHistory();
    const objects = await objectsToSend(store, tip, [base]);
    const expected = [
      tip,
      await git(dir, 'rev-parse', `${tip}^{tree}`),
      await git(dir, 'rev-parse', `${tip}:workflows`),
      await git(dir, 'rev-parse', `${tip}:workflows/wf-7`),
      await git(dir, 'rev-parse', `${tip}:workflows/wf-7/workflow.yaml`),
    ];
    expect([...objects.keys()].sort()).toEqual(expected.sort());
    // With nothing known, everything reachable is sent: both commits, every tree and blob.
    const all = await objectsToSend(store, tip, []);
    const listed = (await git(dir, 'rev-list', '--objects', tip)).split('\n').map((l) => l.split(' ')[0]);
    expect([...all.keys()].sort()).toEqual([...new Set(listed)].sort());
  });

  it('writes a pack git itself indexes and verifies, holding exactly those objects', async () => {
    const { dir, store, base, tip } = await repoWithHistory();
    const objects = await objectsToSend(store, tip, [base]);
    const pack = await writePack(store, objects);
    const path = join(await tempDir(), 'test.pack');
    await writeFile(path, pack);
    await execa('git', ['index-pack', path], { cwd: dir, env: GIT_ENV });
    const verified = await execa('git', ['verify-pack', '-v', path.replace(/\.pack$/, '.idx')], { cwd: dir, env: GIT_ENV });
    const ids = verified.stdout.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => l.slice(0, 40));
    expect(ids.sort()).toEqual([...objects.keys()].sort());
  });

  it('reads the advertisement and a side-band report with the hook messages', () => {
    const advertisement = Buffer.concat([
      pktLine('# service=git-receive-pack\n'),
      FLUSH,
      pktLine(`${'a'.repeat(40)} refs/heads/development\0report-status side-band-64k atomic\n`),
      pktLine(`${'b'.repeat(40)} refs/heads/production\n`),
      FLUSH,
    ]);
    const parsed = parseAdvertisement(advertisement);
    expect([...parsed.refs]).toEqual([
      ['refs/heads/development', 'a'.repeat(40)],
      ['refs/heads/production', 'b'.repeat(40)],
    ]);
    expect(parsed.capabilities.has('side-band-64k')).toBe(true);
    const inner = Buffer.concat([pktLine('unpack ok\n'), pktLine('ng refs/heads/staging pre-receive hook declined\n'), FLUSH]);
    const report = parseReport(
      Buffer.concat([pktLine(Buffer.concat([Buffer.from([2]), Buffer.from('knock-env refused this push\nline two\n')])), pktLine(Buffer.concat([Buffer.from([1]), inner])), FLUSH]),
      true,
    );
    expect(report.unpack).toBe('ok');
    expect(report.refs.get('refs/heads/staging')).toEqual({ ok: false, reason: 'pre-receive hook declined' });
    expect(report.messages).toEqual(['knock-env refused this push', 'line two']);
  });
});

describe('URLs in messages', () => {
  it('never show a user name or password, either of which can be a secret', async () => {
    const { redact } = await import('../../src/core/remote/transport.js');
    expect(redact('http://ada%40example.com:kenvm_secret@127.0.0.1:8080/p.git')).toBe('http://127.0.0.1:8080/p.git');
    expect(redact('http://:kenv_key@127.0.0.1:8080/p.git')).toBe('http://127.0.0.1:8080/p.git');
    expect(redact('https://ghp_TOKEN@github.com/o/r.git')).toBe('https://github.com/o/r.git');
    expect(redact('https://github.com/o/r.git')).toBe('https://github.com/o/r.git');
  });
});
