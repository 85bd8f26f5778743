import { createRequire } from 'node:module';
import type { Liquid, LiquidError, TagToken, TopLevelToken } from 'liquidjs';

/**
 * The Liquid engine knock-env renders and checks templates with: liquidjs,
 * set up the way Knock renders (UTC, missing variables render empty) and
 * extended with Knock's own filters. It never touches the file system:
 * `render`, `include` and `layout` print a placeholder instead of reading a
 * partial, since partials are not part of a knock-env project.
 */

// liquidjs is loaded on first use: commands that never meet a template never pay for it.
const require = createRequire(import.meta.url);
type LiquidModule = typeof import('liquidjs');
let liquidModule: LiquidModule | undefined;
function liquidjs(): LiquidModule {
  return (liquidModule ??= require('liquidjs') as LiquidModule);
}

export interface KnockLiquidOptions {
  /** The clock: what `timestamp`, "now" and "today" mean. */
  now?: () => Date;
  /** Called with the key of every partial a template renders. */
  onPartial?: (key: string) => void;
  /** Refuse filters the engine does not know (used to warn about them, never to validate). */
  strictFilters?: boolean;
}

/** Largest template text parsed, in characters (the limit on `@` files is larger, but no template is this big). */
const PARSE_LIMIT = 10 * 1024 * 1024;
/** Longest a single render may take, in milliseconds; a RenderBudget shares a tighter bound across a whole run. */
const RENDER_LIMIT_MS = 2_000;

export function knockLiquid(options: KnockLiquidOptions = {}): Liquid {
  const { Liquid: LiquidClass, Tag } = liquidjs();
  const engine = new LiquidClass({
    timezoneOffset: 0,
    strictVariables: false,
    strictFilters: options.strictFilters ?? false,
    ownPropertyOnly: true,
    // An empty in-memory store; the tags below never look anything up in it.
    templates: {},
    relativeReference: false,
    parseLimit: PARSE_LIMIT,
    renderLimit: RENDER_LIMIT_MS,
  });

  class PartialTag extends Tag {
    private readonly key: string;
    constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
      super(token, remain, liquid);
      this.key = /^\s*(?:'([^']*)'|"([^"]*)"|([^\s,]+))/.exec(token.args)?.slice(1).find((s) => s !== undefined) ?? '';
    }
    render(_ctx: unknown, emitter: { write(html: unknown): void }): void {
      options.onPartial?.(this.key);
      emitter.write(`[partial ${this.key}]`);
    }
  }
  for (const name of ['render', 'include', 'layout']) engine.registerTag(name, PartialTag);

  const now = options.now ?? (() => new Date());
  const builtinDate = engine.filters.date;
  const dateHandler = typeof builtinDate === 'function' ? builtinDate : builtinDate?.handler;
  engine.registerFilter('date', function (this: unknown, value: unknown, ...args: unknown[]) {
    const input = value === 'now' || value === 'today' ? now().toISOString() : value;
    return dateHandler?.call(this as never, input, ...args);
  });
  for (const [name, filter] of Object.entries(KNOCK_FILTERS)) engine.registerFilter(name, filter);
  return engine;
}

// ---------------------------------------------------------------------------
// One budget for every render of a run

/** Time every render of one run may take together, in milliseconds. */
export const RUN_RENDER_MS = 5_000;
/**
 * Values every render of one run may create together, as liquidjs counts
 * them (a range's items, a string's characters from `append`, `join` and the
 * like) plus the characters of the output. Ten million is a few tens of MB.
 */
export const RUN_MEMORY_UNITS = 10_000_000;

/** Thrown inside liquidjs (which wraps it with the template's place) when the budget is used up. */
export class BudgetExceeded extends Error {}

/**
 * Time and memory shared by all the renders of one run, so that many
 * templates cannot each take a full allowance: liquidjs's own limits apply
 * per render call, so the budget hands every render a context whose limiters
 * are these two, and an output sink that counts what it writes.
 */
export class RenderBudget {
  private readonly deadline: number;
  private used = 0;
  /** Set once a render has run out of time or memory; later renders do not start. */
  exceeded: string | undefined;

  constructor(
    private readonly ms = RUN_RENDER_MS,
    private readonly units = RUN_MEMORY_UNITS,
  ) {
    this.deadline = performance.now() + ms;
  }

  /** Renders parsed templates within what is left of the budget. */
  async render(engine: Liquid, templates: unknown, scope: Record<string, unknown>): Promise<string> {
    const { Context, toPromise, toValue } = liquidjs();
    const fail = (what: string): never => {
      this.exceeded ??= what;
      throw new BudgetExceeded(this.describe());
    };
    // Shaped like liquidjs's own limiters, which it calls with `use` for memory and `check` for time.
    const memoryLimit = {
      use: (count: number): void => {
        if (+count > 0 && (this.used += +count) > this.units) fail('memory');
      },
      check: (): void => {},
    };
    const renderLimit = {
      use: (): void => {},
      check: (now: number): void => {
        if (now > this.deadline) fail('time');
      },
    };
    if (this.exceeded !== undefined) throw new BudgetExceeded(this.describe());
    const context = new Context(scope, engine.options, { sync: false }, { memoryLimit: memoryLimit as never, renderLimit: renderLimit as never, liquid: engine });
    const stringify = (value: unknown): string => {
      const v = toValue(value);
      if (typeof v === 'string') return v;
      if (v === null || v === undefined) return '';
      if (Array.isArray(v)) return v.map(stringify).join('');
      return String(v);
    };
    const emitter = {
      buffer: '',
      write(html: unknown): void {
        const text = stringify(html);
        memoryLimit.use(text.length);
        this.buffer += text;
      },
    };
    const rendered = await toPromise(engine.renderer.renderTemplates(templates as never, context, emitter as never));
    return String(rendered);
  }

  describe(): string {
    const spent = this.exceeded === 'time' ? `more than ${this.ms / 1000} s` : `more than ${this.units.toLocaleString('en')} values`;
    return `the run's rendering budget is used up (${spent} across all its templates); a template that loops or builds text without bound is the usual cause`;
  }
}

// ---------------------------------------------------------------------------
// Knock's filters (docs.knock.app, "Liquid helpers")

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value < 1e11 ? value * 1000 : value);
  if (typeof value === 'string' && value.trim() !== '') {
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed)) return toDate(Number(trimmed));
    const date = new Date(trimmed);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** Minutes east of UTC of a time zone at an instant. Throws RangeError on an unknown zone. */
function zoneOffsetMinutes(date: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((local - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

const pad = (n: number, width = 2): string => String(Math.abs(n)).padStart(width, '0');

/** ISO 8601 with the zone's offset, as Knock's `timezone` prints it: 2023-12-31T19:30:00-05:00. */
export function isoInZone(date: Date, timeZone: string): string {
  const offset = zoneOffsetMinutes(date, timeZone);
  const local = new Date(date.getTime() + offset * 60000);
  const sign = offset < 0 ? '-' : '+';
  return (
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    `${sign}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
  );
}

type DateStyle = 'short' | 'medium' | 'long' | 'full';
const STYLES: readonly string[] = ['short', 'medium', 'long', 'full'];
const style = (value: unknown): DateStyle => (typeof value === 'string' && STYLES.includes(value) ? (value as DateStyle) : 'short');

function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(String(value ?? '').trim());
  return Number.isFinite(n) ? n : 0;
}

export const KNOCK_FILTERS: Record<string, (value: unknown, ...args: unknown[]) => unknown> = {
  /** `{{ n | pluralize: "alert", "alerts" }}`: the first word when n is 1, else the second. */
  pluralize: (value, singular, plural) => (toNumber(value) === 1 ? singular : plural),
  /** `{{ timestamp | timezone: "America/New_York" }}` → 2023-12-31T19:30:00-05:00. */
  timezone: (value, zone) => {
    const date = toDate(value);
    if (date === undefined) return value;
    return isoInZone(date, typeof zone === 'string' && zone !== '' ? zone : 'UTC');
  },
  format_date_in_locale: (value, locale, format) => {
    const date = toDate(value);
    if (date === undefined) return value;
    return new Intl.DateTimeFormat(String(locale ?? 'en'), { dateStyle: style(format), timeZone: 'UTC' }).format(date);
  },
  format_datetime_in_locale: (value, locale, dateFormat, timeFormat, zone) => {
    const date = toDate(value);
    if (date === undefined) return value;
    return new Intl.DateTimeFormat(String(locale ?? 'en'), {
      dateStyle: style(dateFormat),
      timeStyle: style(timeFormat),
      timeZone: typeof zone === 'string' && zone !== '' ? zone : 'UTC',
    }).format(date);
  },
  format_number: (value, locale) => new Intl.NumberFormat(String(locale ?? 'en')).format(toNumber(value)),
  currency: (value, currency, locale) =>
    new Intl.NumberFormat(String(locale ?? 'en'), { style: 'currency', currency: String(currency ?? 'USD') }).format(toNumber(value)),
  rounded_currency: (value, currency, locale) =>
    new Intl.NumberFormat(String(locale ?? 'en'), {
      style: 'currency',
      currency: String(currency ?? 'USD'),
      minimumFractionDigits: 0,
      maximumFractionDigits: 0,
    }).format(toNumber(value)),
  /** Each word's first letter in upper case; the rest is left as it is. */
  titlecase: (value) => String(value ?? '').replace(/(^|\s)(\S)/g, (_m, space: string, first: string) => space + first.toUpperCase()),
};

// ---------------------------------------------------------------------------
// Errors

export interface LiquidProblem {
  /** 1-based, inside the template text. */
  line?: number;
  column?: number;
  message: string;
  /** True for a template that does not parse; false for one that failed while rendering. */
  syntax: boolean;
}

export function isLiquidError(error: unknown): error is LiquidError {
  return liquidModule !== undefined && error instanceof liquidModule.LiquidError;
}

/** The place and message of a liquidjs error, without the ", line:1, col:2" liquidjs appends. */
export function liquidProblem(error: unknown): LiquidProblem {
  const message = error instanceof Error ? error.message : String(error);
  const clean = message.replace(/,? line:\d+, col:\d+\s*$/, '');
  if (!isLiquidError(error)) return { message: clean, syntax: false };
  const { ParseError, TokenizationError } = liquidjs();
  const syntax = error instanceof ParseError || error instanceof TokenizationError;
  let position: [number, number] | undefined;
  try {
    position = error.token?.getPosition() as [number, number] | undefined;
  } catch {
    position = undefined;
  }
  return position === undefined ? { message: clean, syntax } : { line: position[0], column: position[1], message: clean, syntax };
}

/** Whether a string holds Liquid markup at all; plain strings need no parse. */
export function hasLiquid(text: string): boolean {
  return text.includes('{{') || text.includes('{%');
}
