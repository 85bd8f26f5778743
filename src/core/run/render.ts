import type { Liquid } from 'liquidjs';
import { hasLiquid, knockLiquid, liquidProblem, RenderBudget } from '../liquid/engine.js';
import { childPath, setOwn, type StringSource, type TemplateFiles } from '../liquid/sources.js';
import type { RenderedField, RunIssue } from './report.js';

/** Template fields that are settings, not text someone reads. */
const NON_CONTENT_KEYS = new Set(['type', 'variant', 'version', 'layout_key', 'attachment_key', 'delivery_type', 'is_mjml', 'method']);
const LAYOUT_KEYS = new Set(['layout_attrs', 'style_attrs', 'size_attrs']);

function isContentField(name: string): boolean {
  const segments = name.split(/[.[\]]+/).filter((s) => s !== '' && !/^\d+$/.test(s));
  const last = segments[segments.length - 1] ?? '';
  return !NON_CONTENT_KEYS.has(last) && !segments.some((s) => LAYOUT_KEYS.has(s));
}


function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface Rendered {
  value: unknown;
  fields: RenderedField[];
}

/**
 * Renders the templates of one run with Knock's Liquid, within one budget
 * of time and memory for all of them, and collects their problems (each at
 * its place in its file) into the run's issues and warnings.
 */
export class TemplateRenderer {
  private readonly engine: Liquid;
  private readonly strictEngine: Liquid;
  /** Keys of the partials templates rendered (as placeholders). */
  readonly partials = new Set<string>();
  private readonly unknownFilters = new Set<string>();
  private readonly issueKeys = new Set<string>();
  /** One allowance of time and memory for every template of the run. */
  private readonly budget = new RenderBudget();
  /** Template fields left unrendered once the budget was used up. */
  private unrendered = 0;

  constructor(
    private readonly files: TemplateFiles,
    now: Date,
    private readonly report: { issues: RunIssue[]; warnings: string[] },
    private readonly showContents: boolean,
  ) {
    this.engine = knockLiquid({ now: () => now, onPartial: (key) => this.partials.add(key) });
    this.strictEngine = knockLiquid({ strictFilters: true });
  }

  /** What the run says at its end about fields the budget left unrendered. */
  budgetWarning(): string | undefined {
    if (this.unrendered === 0) return undefined;
    return `${this.unrendered} more template field${this.unrendered === 1 ? ' was' : 's were'} not rendered: ${this.budget.describe()}.`;
  }

  private issue(issue: RunIssue): void {
    const key = `${issue.file}:${issue.line ?? ''}:${issue.column ?? ''}:${issue.message}`;
    if (this.issueKeys.has(key)) return;
    this.issueKeys.add(key);
    this.report.issues.push(issue);
  }

  private async renderText(text: string, source: StringSource | undefined, step: string, field: string, scope: Record<string, unknown>): Promise<string | undefined> {
    if (!hasLiquid(text)) return text;
    const file = source?.file ?? this.files.mainFile;
    const report = (error: unknown, code: RunIssue['code']): undefined => {
      const problem = liquidProblem(error);
      const at = problem.line === undefined || source === undefined ? undefined : source.locate(problem.line, problem.column ?? 1);
      this.issue({
        file,
        ...(at === undefined ? {} : { line: at.line, column: at.column }),
        ...(source?.pointer === undefined ? {} : { pointer: source.pointer }),
        step,
        field,
        code: problem.syntax ? 'liquid-syntax' : code,
        message: `Liquid: ${problem.message}`,
      });
      return undefined;
    };
    let templates;
    try {
      templates = this.engine.parse(text);
    } catch (error) {
      return report(error, 'liquid-syntax');
    }
    try {
      this.strictEngine.parse(text);
    } catch (error) {
      const name = /undefined filter: ([\w-]+)/.exec(liquidProblem(error).message)?.[1];
      if (name !== undefined && !this.unknownFilters.has(name)) {
        this.unknownFilters.add(name);
        this.report.warnings.push(`${file}: the filter "${name}" is not known to knock-env; it passes its input through unchanged here.`);
      }
    }
    if (this.budget.exceeded !== undefined) {
      this.unrendered++;
      return undefined;
    }
    try {
      return await this.budget.render(this.engine, templates, scope);
    } catch (error) {
      return report(error, 'liquid-render');
    }
  }

  /** Resolves the `@` fields of a subtree of the workflow and renders every content string in it. */
  async render(node: unknown, pointer: string, root: string, step: string, scope: Record<string, unknown>): Promise<Rendered> {
    const resolved = await this.files.resolve(node, pointer, root);
    for (const problem of resolved.problems) this.report.warnings.push(problem);
    const fields: RenderedField[] = [];
    const visit = async (value: unknown, field: string): Promise<unknown> => {
      if (typeof value === 'string') {
        if (!isContentField(field)) return value;
        const source = resolved.sources.get(field);
        const text = await this.renderText(value, source, step, field, scope);
        const name = field;
        fields.push(text === undefined ? { name, file: source?.file ?? this.files.mainFile, size: 0, failed: true } : { name, file: source?.file ?? this.files.mainFile, size: bytes(text), text });
        return text ?? '';
      }
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        for (let i = 0; i < value.length; i++) out.push(await visit(value[i], childPath(field, i)));
        return out;
      }
      if (isRecord(value)) {
        const out: Record<string, unknown> = {};
        for (const [key, child] of Object.entries(value)) setOwn(out, key, await visit(child, childPath(field, key)));
        return out;
      }
      return value;
    };
    return { value: await visit(resolved.value, root), fields };
  }

  shown(fields: RenderedField[]): RenderedField[] {
    if (this.showContents) return fields;
    return fields.map(({ name, file, size, failed }) => ({ name, file, size, ...(failed ? { failed } : {}) }));
  }
}
