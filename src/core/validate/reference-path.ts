/**
 * Why a reference path is not a relative path inside the resource folder,
 * or its normalised path relative to that folder. `baseDir` is the folder,
 * relative to the resource folder, of the file holding the reference.
 */
export function resolveReference(path: string, baseDir: string): { path: string } | { problem: string } {
  if (path.length === 0) return { problem: 'the path is empty' };
  if (path.includes('\0')) return { problem: 'the path contains a NUL byte' };
  if (path.includes('\\')) return { problem: 'the path contains a backslash; use "/"' };
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return { problem: 'the path is absolute' };
  const segments = baseDir === '' ? [] : baseDir.split('/');
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return { problem: 'the path leads outside the resource folder' };
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  if (segments.length === 0) return { problem: 'the path names the resource folder itself' };
  return { path: segments.join('/') };
}
