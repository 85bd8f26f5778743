/**
 * Obfuscation of recipient data, for environments whose
 * `obfuscate_recipient_data` setting is on. A recipient keeps only what
 * identifies it (`id`, and `collection` for an object recipient); every other
 * field is replaced. Templates are rendered with placeholders instead of the
 * recipient's values, so nothing derived from them (a first name split off,
 * an upper-cased email) reaches the output; and every string of the output is
 * scrubbed of the recipient's values, which catches them where they arrive by
 * another way (the same email in the trigger data).
 */

/** Recipient fields that identify and are kept. */
export const RECIPIENT_IDENTIFIERS: readonly string[] = ['id', 'collection'];

export const REDACTED = '[redacted]';

export function placeholder(path: string): string {
  return `[redacted: ${path}]`;
}

/** Deeper than this, a value is masked whole rather than walked (no recipient is this deep; a crafted one must not exhaust the stack). */
const MAX_DEPTH = 32;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The recipient as shown: its identifiers alone. */
export function shownRecipient(recipient: Record<string, unknown>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const key of RECIPIENT_IDENTIFIERS) if (recipient[key] !== undefined) shown[key] = recipient[key];
  return shown;
}

/** Paths of the fields that are hidden (top level and below), e.g. email, address.city. */
export function redactedFields(recipient: Record<string, unknown>): string[] {
  const out: string[] = [];
  const visit = (value: unknown, path: string, depth: number): void => {
    if (isRecord(value) && Object.keys(value).length > 0 && depth < MAX_DEPTH) {
      for (const [key, child] of Object.entries(value)) visit(child, `${path}.${key}`, depth + 1);
    } else out.push(path);
  };
  for (const [key, value] of Object.entries(recipient)) {
    if (RECIPIENT_IDENTIFIERS.includes(key)) continue;
    visit(value, key, 1);
  }
  return out;
}

/**
 * The recipient templates see when it is obfuscated: identifiers kept, every
 * other value (at any depth, array items included) a placeholder naming it.
 */
export function placeholderRecipient(recipient: Record<string, unknown>, root = 'recipient'): Record<string, unknown> {
  const replace = (value: unknown, path: string, depth: number): unknown => {
    if (value === null || value === undefined) return value;
    if (depth >= MAX_DEPTH) return placeholder(path);
    if (Array.isArray(value)) return value.map((item, i) => replace(item, `${path}[${i}]`, depth + 1));
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v, `${path}.${k}`, depth + 1)]));
    return placeholder(path);
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(recipient)) {
    Object.defineProperty(out, key, { value: RECIPIENT_IDENTIFIERS.includes(key) ? value : replace(value, `${root}.${key}`, 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Shortest string value scrubbed: shorter ones (a locale "en", a channel "sms") would blank out ordinary words. */
const MIN_SCRUB_LENGTH = 4;
/** Numbers are scrubbed only when long enough to identify (a phone number stored as a number). */
const MIN_SCRUB_DIGITS = 6;

/** Removes a recipient's values from text. */
export class Scrubber {
  private readonly pattern: RegExp | null;

  constructor(recipient: Record<string, unknown>) {
    const values = new Set<string>();
    const collect = (value: unknown, depth: number): void => {
      if (depth > MAX_DEPTH) return;
      if (typeof value === 'string') {
        const text = value.trim();
        if (text.length >= MIN_SCRUB_LENGTH) values.add(text);
        // The words of a name, as a template may print them one by one.
        for (const part of text.split(/\s+/)) if (part.length >= 4 && part !== text) values.add(part);
      } else if (typeof value === 'number' && String(value).replace(/\D/g, '').length >= MIN_SCRUB_DIGITS) {
        values.add(String(value));
      } else if (Array.isArray(value)) value.forEach((item) => collect(item, depth + 1));
      else if (isRecord(value)) Object.values(value).forEach((item) => collect(item, depth + 1));
    };
    for (const [key, value] of Object.entries(recipient)) if (!RECIPIENT_IDENTIFIERS.includes(key)) collect(value, 1);
    const sorted = [...values].sort((a, b) => b.length - a.length).map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // Whole words only: a name "Mina" is scrubbed from "Hi Mina," but not from "terminated".
    this.pattern = sorted.length === 0 ? null : new RegExp(`(?<![\\p{L}\\p{N}_])(?:${sorted.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
  }

  text(value: string): string {
    return this.pattern === null ? value : value.replace(this.pattern, REDACTED);
  }

  /** A copy of a value with every string scrubbed (object keys are left alone); what lies too deep is replaced whole. */
  deep<T>(value: T): T {
    if (this.pattern === null) return value;
    const visit = (node: unknown, depth: number): unknown => {
      if (typeof node === 'string') return this.text(node);
      if (node === null || typeof node !== 'object') return node;
      if (depth >= MAX_DEPTH * 2) return REDACTED;
      if (Array.isArray(node)) return node.map((item) => visit(item, depth + 1));
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, visit(v, depth + 1)]));
    };
    return visit(value, 0) as T;
  }
}
