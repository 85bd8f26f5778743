import { describe, expect, it } from 'vitest';
import {
  escapeData,
  escapeProperty,
  githubReport,
  issueAnnotation,
  workflowCommand,
} from '../../src/cli/annotations.js';
import type { ValidationIssue } from '../../src/core/validate/types.js';
import { parseWorkflowCommand } from '../helpers/workflow-commands.js';

describe('GitHub workflow commands', () => {
  it('escapes as GitHub does: %, CR and LF in messages; also : and , in properties', () => {
    expect(escapeData('100% done\r\nnext: a, b')).toBe('100%25 done%0D%0Anext: a, b');
    expect(escapeProperty('100% done\r\nnext: a, b')).toBe('100%25 done%0D%0Anext%3A a%2C b');
    // % first, so an escape already in the text is not mistaken for one.
    expect(escapeData('%0A')).toBe('%250A');
  });

  it('prints one error per issue, with file, line, column and the code as title', () => {
    const issue: ValidationIssue = { file: 'workflows/welcome/workflow.yaml', line: 4, column: 7, pointer: '/steps/0/type', code: 'schema', message: 'must be one of channel, delay' };
    expect(issueAnnotation(issue)).toBe('::error file=workflows/welcome/workflow.yaml,line=4,col=7,title=schema::must be one of channel, delay (at /steps/0/type)');
    expect(issueAnnotation({ file: 'knock-env.yaml', code: 'account-change', message: 'no' })).toBe('::error file=knock-env.yaml,title=account-change::no');
    expect(issueAnnotation({ file: 'a.yaml', line: 2, code: 'yaml-syntax', message: 'x' })).toBe('::error file=a.yaml,line=2,title=yaml-syntax::x');
    expect(workflowCommand('notice', {}, 'hello')).toBe('::notice::hello');
  });

  it('parses back to the same file, position, code and message, whatever the text holds', () => {
    const issues: ValidationIssue[] = [
      { file: 'workflows/a,b:c%d/email_1/body.html', line: 1, column: 1, code: 'file-ref-missing', message: 'line one\nline two\r\n100% sure: yes, really' },
      { file: 'guides/tour/guide.yaml', line: 12, column: 3, pointer: '/steps/1', code: 'schema', message: 'must have required property "values"' },
      { file: 'environments/production/variables.yaml', code: 'ownership', message: '::error:: injected %0A text' },
      { file: 'knock-env.yaml', code: 'account-change', message: '' },
    ];
    const lines = githubReport(issues, 'knock-env check: 4 problems');
    expect(lines).toHaveLength(issues.length + 1);
    expect(lines.at(-1)).toBe('knock-env check: 4 problems');
    expect(parseWorkflowCommand(lines.at(-1)!)).toBeNull();
    for (const [i, l] of lines.slice(0, -1).entries()) {
      expect(l).not.toMatch(/[\r\n]/);
      const parsed = parseWorkflowCommand(l);
      const issue = issues[i]!;
      expect(parsed).toEqual({
        command: 'error',
        properties: {
          file: issue.file,
          ...(issue.line !== undefined ? { line: String(issue.line) } : {}),
          ...(issue.column !== undefined ? { col: String(issue.column) } : {}),
          title: issue.code,
        },
        message: issue.pointer ? `${issue.message} (at ${issue.pointer})` : issue.message,
      });
    }
  });

  it('reports nothing but the summary when there is nothing to report', () => {
    expect(githubReport([], 'knock-env validate: 3 resources checked, no problems')).toEqual(['knock-env validate: 3 resources checked, no problems']);
  });
});
