/**
 * Reads GitHub Actions workflow commands back, undoing the escapes as GitHub does,
 * so that tests check what a pull request's annotations would say.
 */

export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

function unescape(value: string, property: boolean): string {
  const codes: Record<string, string> = { '%0D': '\r', '%0A': '\n', '%25': '%', ...(property ? { '%3A': ':', '%2C': ',' } : {}) };
  return value.replace(/%(?:0D|0A|25|3A|2C)/g, (code) => codes[code] ?? code);
}

/** Reads a workflow command line back (null for a line that is not one), undoing the escapes. */
export function parseWorkflowCommand(line: string): WorkflowCommand | null {
  const match = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!match) return null;
  const properties: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq < 0) return null;
    properties[pair.slice(0, eq)] = unescape(pair.slice(eq + 1), true);
  }
  return { command: match[1]!, properties, message: unescape(match[3]!, false) };
}
