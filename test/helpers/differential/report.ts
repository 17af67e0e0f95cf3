/**
 * Results of a differential run and their text form: which seed, which step, which session
 * and command, what each side sent and answered (normalised, as a line diff, and raw), the
 * actions that led there, and any invariant violations found on either side. Only formats;
 * never decides whether two answers are the same.
 */
import { formatViolations, type InvariantViolation } from '../imap-invariants.ts';

export interface SideOutput {
  readonly sent: string;
  readonly normalised: readonly string[];
  readonly raw: string;
}

export interface Mismatch {
  readonly step: number;
  /** "s2", "observer", "world". */
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  /** The oracle broke an invariant in the answer that differs: the run is inconclusive there. */
  readonly oracleFault: boolean;
  readonly oracle: SideOutput | null;
  readonly subject: SideOutput | null;
}

export interface DifferentialResult {
  readonly seed: number;
  readonly stepsPlanned: number;
  readonly stepsRun: number;
  readonly sessions: number;
  readonly mismatch: Mismatch | null;
  /** Invariants the subject broke and the oracle did not (at the same step, in the same session). */
  readonly violations: readonly InvariantViolation[];
  /** Invariants the oracle itself broke: not held against the subject, but worth knowing. */
  readonly oracleViolations: readonly InvariantViolation[];
  /** One line per step, for the report. */
  readonly actions: readonly string[];
  readonly elapsedMs: number;
}

/** No difference and no broken invariant held against the subject (an oracle fault ends a run inconclusive, not failed). */
export function passed(result: DifferentialResult): boolean {
  return (result.mismatch === null || result.mismatch.oracleFault) && result.violations.length === 0;
}

/** A minimal LCS line diff: "  " same, "- " oracle only, "+ " subject only. */
export function lineDiff(oracle: readonly string[], subject: readonly string[]): string[] {
  const rows = oracle.length;
  const cols = subject.length;
  const lcs: number[][] = Array.from({ length: rows + 1 }, () => new Array<number>(cols + 1).fill(0));
  for (let i = rows - 1; i >= 0; i -= 1) {
    for (let j = cols - 1; j >= 0; j -= 1) {
      lcs[i]![j] = oracle[i] === subject[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < rows || j < cols) {
    if (i < rows && j < cols && oracle[i] === subject[j]) {
      out.push(`  ${oracle[i]}`);
      i += 1;
      j += 1;
    } else if (i < rows && (j >= cols || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${oracle[i]}`);
      i += 1;
    } else {
      out.push(`+ ${subject[j]}`);
      j += 1;
    }
  }
  return out;
}

/** Shows a long line around `at` (where it first differs from its counterpart), or its start. */
function shorten(line: string, at = 0, width = 240): string {
  if (line.length <= width) return line;
  const start = Math.max(0, Math.min(at - width / 3, line.length - width));
  return `${start > 0 ? '…' : ''}${line.slice(start, start + width)}${start + width < line.length ? '…' : ''} (${line.length} chars)`;
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

/** The diff for people: long lines cut around their first difference, runs of equal lines folded. */
export function readableDiff(oracle: readonly string[], subject: readonly string[]): string[] {
  const diff = lineDiff(oracle, subject);
  const out: string[] = [];
  let equalRun: string[] = [];
  const flushEqual = (): void => {
    if (equalRun.length > 4) out.push(...equalRun.slice(0, 2), `  … ${equalRun.length - 3} equal lines …`, equalRun.at(-1)!);
    else out.push(...equalRun);
    equalRun = [];
  };
  diff.forEach((line, index) => {
    if (line.startsWith('  ')) {
      equalRun.push(`  ${shorten(line.slice(2))}`);
      return;
    }
    flushEqual();
    // Cut a "-" line and the "+" line facing it at the same place, so the difference shows.
    const sign = line.slice(0, 2);
    const counterpart = diff.slice(index + 1).find((other) => !other.startsWith('  ') && !other.startsWith(sign)) ?? diff.slice(0, index).findLast((other) => !other.startsWith('  ') && !other.startsWith(sign)) ?? '';
    out.push(`${sign}${shorten(line.slice(2), firstDifference(line.slice(2), counterpart.slice(2)))}`);
  });
  flushEqual();
  return out;
}

/** INLAY_DIFFERENTIAL_REPORT_CHARS=100000 shows whole answers when a clipped one hides the difference. */
function clip(text: string, limit = Number(process.env['INLAY_DIFFERENTIAL_REPORT_CHARS'] ?? 2500)): string {
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

function indent(text: string, prefix = '    '): string {
  return text.replace(/\r?\n$/, '').split(/\r?\n/).map((line) => `${prefix}${line}`).join('\n');
}

export function formatResult(result: DifferentialResult): string {
  const lines = [
    `differential run with seed ${result.seed}: ${!passed(result) ? 'FAILED' : result.mismatch ? 'INCONCLUSIVE (oracle fault)' : 'no difference'} ` +
      `(${result.stepsRun} of ${result.stepsPlanned} steps, ${result.sessions} sessions per target, ${(result.elapsedMs / 1000).toFixed(1)} s)`,
  ];
  const mismatch = result.mismatch;
  if (mismatch) {
    lines.push(`step ${mismatch.step}, ${mismatch.actor}: ${mismatch.action}`, `  ${mismatch.reason}`);
    if (mismatch.oracle && mismatch.subject) {
      lines.push(`  oracle  sent: ${mismatch.oracle.sent}`, `  subject sent: ${mismatch.subject.sent}`);
      lines.push('  normalised responses (- oracle only, + subject only):', indent(readableDiff(mismatch.oracle.normalised, mismatch.subject.normalised).join('\n')));
      lines.push('  oracle received:', indent(clip(mismatch.oracle.raw)), '  subject received:', indent(clip(mismatch.subject.raw)));
    }
  }
  if (result.violations.length > 0) {
    const shown = result.violations.slice(0, 3);
    lines.push(`invariant violations (${result.violations.length}, first ${shown.length} shown):`, indent(formatViolations(shown), '  '));
  }
  if (result.oracleViolations.length > 0) {
    const rules = [...new Set(result.oracleViolations.map((violation) => violation.rule))].join(', ');
    lines.push(`the oracle itself broke invariants ${result.oracleViolations.length} times (${rules}); not counted against the subject. First:`, indent(formatViolations(result.oracleViolations.slice(0, 1)), '  '));
  }
  if (!passed(result)) {
    lines.push('steps before:', indent(result.actions.slice(-12).join('\n'), '  '));
    lines.push(`To replay, add ${result.seed} to the regression seeds of the test.`);
  }
  return lines.join('\n');
}

/** Throws the formatted report unless the run found nothing. */
export function assertNoDifference(result: DifferentialResult): void {
  if (!passed(result)) throw new Error(formatResult(result));
}
