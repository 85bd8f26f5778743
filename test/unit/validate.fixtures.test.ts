import { describe, it, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { validateResource } from '../../src/core/validate/index.js';
import { knockResourceToFiles } from '../../src/core/knock-format/import.js';
import { fastParseYaml, NOT_HANDLED } from '../../src/core/validate/yaml-fast.js';
import type { ResourceKind } from '../../src/core/resources.js';
import { demoDir, knockTemplatesDir, memoryReader, readTree, underFolder } from './validate-helpers.js';

const decoder = new TextDecoder();

const KNOCK_KINDS: { kind: ResourceKind; dir: string; main: string; file: string }[] = [
  { kind: 'workflow', dir: 'workflows', main: 'workflow.json', file: 'workflow.yaml' },
  { kind: 'guide', dir: 'guides', main: 'guide.json', file: 'guide.yaml' },
];

const knockResources = KNOCK_KINDS.flatMap(({ kind, dir, main, file }) =>
  readdirSync(path.join(knockTemplatesDir, dir)).map((key) => ({ kind, dir, main, file, key })),
);

describe('Knock templates, imported', () => {
  it('finds the Knock fixtures', () => {
    expect(knockResources.filter((r) => r.kind === 'workflow').length).toBeGreaterThanOrEqual(20);
    expect(knockResources.filter((r) => r.kind === 'guide').length).toBeGreaterThanOrEqual(4);
  });

  it.each(knockResources.map((r) => [`${r.dir}/${r.key}`, r] as const))('%s validates with no issue', async (_name, r) => {
    const source = readTree(path.join(knockTemplatesDir, r.dir, r.key));
    const { files } = knockResourceToFiles(r.kind, r.key, source);
    const result = await validateResource({ kind: r.kind, key: r.key, read: memoryReader(underFolder(`${r.dir}/${r.key}`, files)) });
    expect(result.issues).toEqual([]);
    expect(result.data).toBeDefined();
  });

  it.each(knockResources.map((r) => [`${r.dir}/${r.key}`, r] as const))('%s round-trips', (_name, r) => {
    const source = readTree(path.join(knockTemplatesDir, r.dir, r.key));
    const { files } = knockResourceToFiles(r.kind, r.key, source);
    const text = decoder.decode(files.get(r.file));
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=../../.knock-env/schemas/${r.kind}.schema.json`);
    const original = JSON.parse(decoder.decode(source.get(r.main))) as Record<string, unknown>;
    delete original.$schema;
    delete original.__readonly;
    // Same data, same field order.
    const parsed = YAML.parse(text) as Record<string, unknown>;
    expect(parsed).toStrictEqual(original);
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(original));
    // Every other file is carried over byte for byte, and nothing is added.
    for (const [p, bytes] of source) if (p !== r.main) expect(files.get(p)).toEqual(bytes);
    expect([...files.keys()].sort()).toEqual([...source.keys()].filter((p) => p !== r.main).concat(r.file).sort());
    // The converted file is in the subset the fast parser handles, which reads the same data.
    const fast = fastParseYaml(text);
    expect(fast).not.toBe(NOT_HANDLED);
    expect(fast).toStrictEqual(original);
  });
});

describe('demo fixtures', () => {
  const demo = KNOCK_KINDS.flatMap(({ kind, dir }) =>
    readdirSync(path.join(demoDir, dir)).map((key) => ({ kind, dir, key })),
  );
  const tree = readTree(demoDir);

  it('has three workflows and two guides', () => {
    expect(demo.filter((d) => d.kind === 'workflow')).toHaveLength(3);
    expect(demo.filter((d) => d.kind === 'guide')).toHaveLength(2);
  });

  it.each(demo.map((d) => [`${d.dir}/${d.key}`, d] as const))('%s validates with no issue', async (_name, d) => {
    const result = await validateResource({ kind: d.kind, key: d.key, read: memoryReader(tree) });
    expect(result.issues).toEqual([]);
    expect(result.data?.origin_environment).toBeUndefined();
    const text = decoder.decode(tree.get(`${d.dir}/${d.key}/${d.kind}.yaml`));
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=../../.knock-env/schemas/${d.kind}.schema.json`);
    expect(fastParseYaml(text)).toStrictEqual(YAML.parse(text));
  });

  it('covers the step types it is meant to show', async () => {
    const types = new Set<string>();
    const walk = (steps: unknown): void => {
      for (const step of (steps as Record<string, unknown>[] | undefined) ?? []) {
        types.add(String(step.type));
        if (step.type === 'channel') types.add(`channel:${String(step.channel_type)}`);
        for (const branch of (step.branches as Record<string, unknown>[] | undefined) ?? []) walk(branch.steps);
      }
    };
    for (const d of demo.filter((x) => x.kind === 'workflow')) {
      const result = await validateResource({ kind: d.kind, key: d.key, read: memoryReader(tree) });
      walk(result.data?.steps);
    }
    for (const t of ['batch', 'channel:email', 'delay', 'branch', 'channel:sms', 'channel:push', 'throttle', 'http_fetch', 'channel:in_app_feed']) {
      expect(types, t).toContain(t);
    }
    expect([...tree.keys()].some((p) => /^workflows\/[^/]+\/.+\.html$/.test(p))).toBe(true);
  });
});
