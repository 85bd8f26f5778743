import type KnockMgmt from '@knocklabs/mgmt';
import type { CoreOptions } from '../context.js';
import { knockClient, knockError, type KnockConnection } from '../knock-api/client.js';
import { apiResourceToKnockFiles } from '../knock-api/files.js';
import { KNOCK_API_KINDS, type ApiResource } from '../knock-api/kinds.js';
import { importKnockDirectory, type ImportResult } from '../ops/import.js';
import { openProject } from '../project.js';
import { keyProblem } from '../keys.js';
import { RESOURCE_TYPES } from '../resources.js';

export interface ImportFromKnockOptions extends Pick<CoreOptions, 'fs' | 'dir'> {
  /** The Knock environment's slug. */
  knockEnvironment: string;
  knock: KnockConnection;
  force?: boolean;
  client?: KnockMgmt;
}

export interface ImportFromKnockResult extends ImportResult {
  knockEnvironment: string;
  /** Resources read from Knock, per type. */
  fetched: Record<string, number>;
}

/**
 * Writes a live Knock environment's resources (committed content, every type
 * knock-env deploys) into the working tree in knock-env's layout. They are
 * fetched into the Knock CLI's layout, as `knock pull` writes it (Knock's
 * annotations say which fields become files), in a folder inside .git, and
 * imported from there by the same import as `knock-env import <dir>`.
 * Nothing is committed: `knock-env commit` does that.
 */
export async function importFromKnock(options: ImportFromKnockOptions): Promise<ImportFromKnockResult> {
  const project = await openProject(options);
  const client = options.client ?? knockClient(options.knock);
  const staging = `${project.gitdir}/knock-env/pull-${Date.now().toString(36)}`;
  const fetched: Record<string, number> = {};
  try {
    for (const api of Object.values(KNOCK_API_KINDS)) {
      if (!api) continue;
      const type = RESOURCE_TYPES[api.kind];
      await options.fs.promises.mkdir(`${staging}/${type.dir}`, { recursive: true });
      let count = 0;
      try {
        for await (const resource of api.list(client, { environment: options.knockEnvironment, committedOnly: true, annotate: true })) {
          // A key that is not a valid folder name is never used as a path.
          if (!api.isLive(resource) || keyProblem(resource.key) !== null) continue;
          await writeResource(options, `${staging}/${type.dir}/${resource.key}`, apiResourceToKnockFiles(api, api.kind, resource as ApiResource));
          count++;
        }
      } catch (error) {
        throw knockError(error, `reading the ${api.kind}s of Knock's ${options.knockEnvironment}`);
      }
      fetched[api.kind] = count;
    }
    const result = await importKnockDirectory({ fs: options.fs, dir: options.dir, source: staging, ...(options.force ? { force: true } : {}) });
    return { ...result, source: `knock:${options.knockEnvironment}`, knockEnvironment: options.knockEnvironment, fetched };
  } finally {
    await options.fs.promises.rm(staging, { recursive: true, force: true });
  }
}

async function writeResource(options: Pick<CoreOptions, 'fs'>, folder: string, files: Map<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of files) {
    // Keys and extracted paths come from Knock; a path leaving the folder is not written.
    if (path.split('/').some((segment) => segment === '..' || segment === '')) continue;
    const abs = `${folder}/${path}`;
    await options.fs.promises.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
    await options.fs.promises.writeFile(abs, bytes);
  }
}
