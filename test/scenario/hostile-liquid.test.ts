import { describe, expect, it } from 'vitest';
import { knockLiquid, RenderBudget, RUN_MEMORY_UNITS } from '../../src/core/liquid/engine.js';
import { knockEnv, projectWith } from '../helpers/project.js';

const MAIN = 'workflows/loops/workflow.yaml';

/** A workflow of `count` email steps, each with the given subject. */
function workflow(subjects: string[]): string {
  const steps = subjects.flatMap((subject, i) => [
    `  - ref: email_${i + 1}`,
    '    type: channel',
    '    channel_key: email',
    '    channel_type: email',
    '    template:',
    `      subject: '${subject}'`,
    '      html_body: <p>hi</p>',
  ]);
  return ['name: Loops', 'steps:', ...steps, ''].join('\n');
}

interface RunJson {
  issues: { file: string; line?: number; column?: number; step: string; code: string; message: string }[];
  warnings: string[];
}

async function run(subjects: string[], data: Record<string, unknown> = {}): Promise<{ code: number; report: RunJson }> {
  const dir = await projectWith({ [MAIN]: workflow(subjects) });
  expect((await knockEnv(dir, 'commit', '-m', 'Add loops')).code).toBe(0);
  const result = await knockEnv(dir, 'run', 'loops', '--recipient', 'u1', '--data', JSON.stringify(data), '--json');
  return { code: result.code, report: JSON.parse(result.out) as RunJson };
}

const BILLION = 'x{% for i in (1..1000000000) %}{{ i }}{% endfor %}';

describe('one rendering budget for the whole run', () => {
  it('stops a loop over a billion items at once, naming the template and its place (exit 3)', async () => {
    // Line 9: commit put origin_environment on the first line.
    const { code, report } = await run([BILLION]);
    expect(code).toBe(3);
    expect(report.issues).toEqual([
      expect.objectContaining({ file: MAIN, line: 9, column: 18, step: 'email_1', code: 'liquid-render', message: expect.stringContaining("the run's rendering budget is used up") }),
    ]);
  });

  it('does not give eight such templates eight budgets: the first uses it up, the rest are not rendered', async () => {
    const { code, report } = await run(Array.from({ length: 8 }, () => BILLION));
    expect(code).toBe(3);
    expect(report.issues.map((i) => i.step)).toEqual(['email_1']);
    expect(report.warnings).toContainEqual(expect.stringMatching(/^7 more template fields were not rendered: the run's rendering budget is used up/));
  });

  it('counts what every template builds against the same allowance', async () => {
    // Each template alone stays inside the budget (the string counts once for append, once for the output); two together do not.
    const big = 'y'.repeat(Math.floor(RUN_MEMORY_UNITS * 0.3));
    const subject = '{{ data.big | append: "" }}';
    const one = await run([subject], { big });
    expect(one.code).toBe(0);
    const two = await run([subject, subject], { big });
    expect(two.code).toBe(3);
    expect(two.report.issues).toEqual([expect.objectContaining({ file: MAIN, step: 'email_2', code: 'liquid-render' })]);
  });

  it('ends a render once the time allowance is spent', async () => {
    const engine = knockLiquid();
    const budget = new RenderBudget(0);
    const templates = engine.parse('{% for i in (1..10) %}{{ i }}{% endfor %}');
    await expect(budget.render(engine, templates, {})).rejects.toThrow(/rendering budget is used up \(more than 0 s/);
    expect(budget.exceeded).toBe('time');
    expect(await new RenderBudget().render(engine, templates, {})).toBe('12345678910');
  });
});
