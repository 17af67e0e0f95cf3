/**
 * Dovecot 2.3 does not evaluate SEARCH criteria as sent: it first builds its own argument tree
 * (mail-search-register-imap.c) and rewrites it (mail_search_args_simplify in
 * mail-search-args-simplify.c). Two things make that rewrite visible in results, so it is
 * ported here step for step:
 *
 * - merging two negated date or size keys of one list keeps the wrong bound, so
 *   `NOT BEFORE 2-Jan-2020 NOT BEFORE 5-Jan-2020` finds what `NOT BEFORE 2-Jan-2020` finds;
 * - the order of the rewritten tree decides which header key decodes a header line first,
 *   and the keys after it on that line search that decoding (search-eval.ts).
 *
 * Sequence sets and UID sets are kept as opaque members (Dovecot merges them into one set per
 * list, which never changes what matches). It must never change what a tree matches in any
 * other way than Dovecot's rewrite does.
 */
import type { SearchKey, SearchProgram, SequenceSet, SystemFlag } from './search-parse.js';
import { searchDateSeconds } from './search-header-values.js';

export type ArgType =
  | 'SUB' | 'OR' | 'ALL' | 'FLAGS' | 'KEYWORDS' | 'SET' | 'BEFORE' | 'ON' | 'SINCE' | 'SMALLER' | 'LARGER'
  | 'HEADER' | 'HEADER_ADDRESS' | 'HEADER_COMPRESS_LWSP' | 'BODY' | 'TEXT';

/** Membership of a set key, combined as Dovecot merges sets (intersection in AND, union in OR). */
export type SetTest =
  | { readonly kind: 'sequence' | 'uid'; readonly set: SequenceSet }
  | { readonly kind: 'and' | 'or'; readonly parts: readonly SetTest[] }
  | { readonly kind: 'not'; readonly inner: SetTest };

/** One node of Dovecot's argument tree (struct mail_search_arg), mutable while simplifying. */
export interface Arg {
  type: ArgType;
  not: boolean;
  subargs: Arg[];
  /** FLAGS: bit mask of FLAG_BITS. */
  flags: number;
  /** KEYWORDS, header, BODY and TEXT keys. */
  str: string;
  /** Header keys: the field name ("from", "subject", or upper-cased for HEADER). */
  field: string;
  /** Dates: midnight UTC of the day in seconds; `sent` for the Date: header. */
  time: number;
  sent: boolean;
  size: bigint;
  set: SetTest | null;
}

export const FLAG_BITS: Readonly<Record<SystemFlag, number>> = {
  '\\Answered': 1,
  '\\Flagged': 2,
  '\\Deleted': 4,
  '\\Seen': 8,
  '\\Draft': 16,
  '\\Recent': 32,
};

function arg(type: ArgType, fields: Partial<Arg> = {}): Arg {
  return { type, not: false, subargs: [], flags: 0, str: '', field: '', time: 0, sent: false, size: 0n, set: null, ...fields };
}

function build(key: SearchKey): Arg {
  switch (key.kind) {
    case 'all':
      return arg('ALL');
    case 'flag':
      return arg('FLAGS', { flags: FLAG_BITS[key.flag], not: !key.set });
    case 'new':
      return arg('SUB', { subargs: [arg('FLAGS', { flags: FLAG_BITS['\\Recent'] }), arg('FLAGS', { flags: FLAG_BITS['\\Seen'], not: true })] });
    case 'keyword':
      return arg('KEYWORDS', { str: key.keyword, not: !key.set });
    case 'date':
      return arg(({ before: 'BEFORE', on: 'ON', since: 'SINCE' } as const)[key.relation], { time: searchDateSeconds(key.date), sent: key.field === 'sent' });
    case 'size':
      return arg(key.relation === 'larger' ? 'LARGER' : 'SMALLER', { size: key.bytes });
    case 'address':
      return arg('HEADER_ADDRESS', { field: key.field.toLowerCase(), str: key.value });
    case 'subject':
      return arg('HEADER_COMPRESS_LWSP', { field: 'subject', str: key.value });
    case 'header':
      return arg('HEADER', { field: key.field, str: key.value });
    case 'body':
      return arg('BODY', { str: key.value });
    case 'text':
      return arg('TEXT', { str: key.value });
    case 'sequence':
    case 'uid':
      return arg('SET', { set: { kind: key.kind, set: key.set } });
    case 'not': {
      const inner = build(key.key);
      inner.not = !inner.not;
      return inner;
    }
    case 'or': {
      // "OR a OR b c" is one list of three in Dovecot (its OR reads on while "OR" follows), and
      // the rewrite treats that differently from "OR a (OR b c)".
      const subargs = [build(key.left)];
      let right = key.right;
      for (; right.kind === 'or'; right = right.right) subargs.push(build(right.left));
      subargs.push(build(right));
      return arg('OR', { subargs });
    }
    case 'and':
      return arg('SUB', { subargs: key.keys.map(build) });
  }
}

/** The top-level list (implicitly ANDed) Dovecot evaluates for these criteria. */
export function dovecotArgs(program: SearchProgram): Arg[] {
  const args = program.keys.map(build);
  let removals = simplifyList(args, true);
  do {
    if (dropRedundant(args, true)) removals = true;
    if (extractCommon(args, true)) removals = true;
    if (removals) removals = simplifyList(args, true);
    if (mergeFlags(args, true)) removals = true;
  } while (removals);
  return args;
}

function oneEquals(a: Arg, b: Arg): boolean {
  if (a.type !== b.type || a.not !== b.not) return false;
  switch (a.type) {
    case 'SUB':
    case 'OR':
      return a.subargs.length === b.subargs.length && a.subargs.every((sub, index) => oneEquals(sub, b.subargs[index]!));
    case 'ALL':
      return true;
    case 'SET':
      return false;
    case 'FLAGS':
      return a.flags === b.flags;
    case 'KEYWORDS':
      return a.str.toLowerCase() === b.str.toLowerCase();
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      return a.time === b.time && a.sent === b.sent;
    case 'SMALLER':
    case 'LARGER':
      return a.size === b.size;
    case 'HEADER':
    case 'HEADER_ADDRESS':
    case 'HEADER_COMPRESS_LWSP':
      return a.field.toLowerCase() === b.field.toLowerCase() && a.str === b.str;
    case 'BODY':
    case 'TEXT':
      return a.str === b.str;
  }
}

/** mail_search_args_simplify_sub over one list, in place; true when something was removed. */
function simplifyList(list: Arg[], parentAnd: boolean): boolean {
  const seen = new Map<string, Arg>();
  let removals = false;
  // mail_search_args_merge_mask: a repeated key goes; "a AND NOT a" turns the first into NOT ALL.
  const mergeMask = (current: Arg, mask: string): boolean => {
    const previous = seen.get(mask);
    if (!previous) {
      seen.set(mask, current);
      return false;
    }
    if (previous.not !== current.not) {
      previous.type = 'ALL';
      previous.not = parentAnd;
    }
    return true;
  };
  for (let i = 0; i < list.length; ) {
    const current = list[i]!;
    if (current.not && (current.type === 'SUB' || current.type === 'OR')) {
      current.type = current.type === 'SUB' ? 'OR' : 'SUB';
      current.not = false;
      for (const sub of current.subargs) sub.not = !sub.not;
    }
    const isList = current.type === 'SUB' || current.type === 'OR';
    if ((current.type === 'SUB' && parentAnd) || (current.type === 'OR' && !parentAnd) || (isList && current.subargs.length === 1)) {
      list.splice(i, 1, ...current.subargs);
      removals = true;
      continue;
    }
    if (isList) {
      const andList = current.type === 'SUB';
      if (dropRedundant(current.subargs, andList)) removals = true;
      if (extractCommon(current.subargs, andList)) removals = true;
      if (simplifyList(current.subargs, current.type !== 'OR')) removals = true;
    }
    if (current.type === 'SET' && current.not) {
      current.set = { kind: 'not', inner: current.set! };
      current.not = false;
    }
    let merged = false;
    switch (current.type) {
      case 'ALL':
        if (i === 0 && list.length === 1) break;
        if (parentAnd !== current.not) {
          merged = true;
        } else {
          list.splice(0, list.length, current);
          removals = true;
        }
        break;
      case 'FLAGS':
        merged = mergeMask(current, `FLAGS ${current.flags}`);
        break;
      case 'KEYWORDS':
        merged = mergeMask(current, `KEYWORDS ${current.str}`);
        break;
      case 'SET': {
        const previous = seen.get('SET');
        if (!previous) {
          seen.set('SET', current);
        } else {
          previous.set = { kind: parentAnd ? 'and' : 'or', parts: [previous.set!, current.set!] };
          merged = true;
        }
        break;
      }
      case 'BEFORE':
      case 'ON':
      case 'SINCE':
        merged = mergeBound(seen, current, `${current.type} ${current.not} ${current.sent}`, parentAnd);
        break;
      case 'SMALLER':
      case 'LARGER':
        merged = mergeBound(seen, current, `${current.type} ${current.not}`, parentAnd);
        break;
      case 'BODY':
      case 'TEXT':
        if (current.str === '') {
          current.type = 'ALL';
          removals = true;
          break;
        }
        merged = mergeMask(current, `${current.type} ${current.str}`);
        break;
      case 'HEADER':
      case 'HEADER_ADDRESS':
      case 'HEADER_COMPRESS_LWSP':
        merged = mergeMask(current, `${current.type} ${current.field} ${current.str}`);
        break;
      case 'SUB':
      case 'OR':
        break;
    }
    if (merged) {
      list.splice(i, 1);
      removals = true;
      continue;
    }
    i++;
  }
  return removals;
}

/**
 * mail_search_args_merge_time / _size: keeps one bound per list, computed as if the keys were
 * not negated, which is wrong when they are. Dovecot's result, so ours.
 */
function mergeBound(seen: Map<string, Arg>, current: Arg, mask: string, parentAnd: boolean): boolean {
  const previous = seen.get(mask);
  if (!previous) {
    seen.set(mask, current);
    return false;
  }
  const bigger = (a: Arg, b: Arg): boolean => (a.type === 'SMALLER' || a.type === 'LARGER' ? a.size > b.size : a.time > b.time);
  const take = (): void => {
    previous.time = current.time;
    previous.size = current.size;
  };
  switch (current.type) {
    case 'ON':
      return previous.time === current.time;
    case 'BEFORE':
    case 'SMALLER':
      // AND keeps the smaller bound, OR the bigger.
      if (parentAnd ? bigger(previous, current) : bigger(current, previous)) take();
      return true;
    default:
      // SINCE, LARGER: AND keeps the bigger bound, OR the smaller.
      if (parentAnd ? bigger(current, previous) : bigger(previous, current)) take();
      return true;
  }
}

/** mail_search_args_simplify_drop_redundant_args: `a AND (a OR b)` is `a`, and alike. */
function dropRedundant(list: Arg[], andArg: boolean): boolean {
  if (list.length === 0) return false;
  const childType: ArgType = andArg ? 'OR' : 'SUB';
  let lowest: Arg[] = [];
  let owner: Arg | null = null;
  let lowestCount = Infinity;
  for (const candidate of list) {
    if (candidate.type !== childType) {
      lowest = [candidate];
      owner = null;
      break;
    }
    if (candidate.subargs.length < lowestCount) {
      lowest = candidate.subargs;
      owner = candidate;
      lowestCount = candidate.subargs.length;
    }
  }
  let removed = false;
  for (let i = 0; i < list.length; ) {
    const candidate = list[i]!;
    if (candidate.type === childType && candidate !== owner && lowest.every((wanted) => candidate.subargs.some((sub) => oneEquals(sub, wanted)))) {
      list.splice(i, 1);
      removed = true;
    } else {
      i++;
    }
  }
  return removed;
}

/** mail_search_args_remove_equal */
function removeEqual(list: Arg[], wanted: Arg, checkSubs: boolean): void {
  for (let i = 0; i < list.length; ) {
    const candidate = list[i]!;
    if (oneEquals(candidate, wanted)) {
      list.splice(i, 1);
    } else if (checkSubs) {
      removeEqual(candidate.subargs, wanted, false);
      if (candidate.subargs.length === 0) list.splice(i, 1);
      else i++;
    } else {
      i++;
    }
  }
}

/** mail_search_args_simplify_extract_common: `(a AND b) OR (a AND c)` becomes `a AND (b OR c)`. */
function extractCommon(list: Arg[], andArg: boolean): boolean {
  if (list.length < 2) return false;
  const childType: ArgType = andArg ? 'OR' : 'SUB';
  const first = list.find((candidate) => candidate.type === childType);
  if (!first) return false;
  const common: Arg[] = [];
  for (const sub of [...first.subargs]) {
    const everywhere = list.every((candidate) => oneEquals(candidate, sub) || (candidate.type === childType && candidate.subargs.some((inner) => oneEquals(inner, sub))));
    if (!everywhere) continue;
    removeEqual(list, sub, true);
    common.unshift(sub);
  }
  if (common.length === 0) return false;
  const replacement = arg(childType, { subargs: list.length === 0 ? common : [arg(andArg ? 'SUB' : 'OR', { subargs: [...list] }), ...common] });
  list.splice(0, list.length, replacement);
  return true;
}

/** mail_search_args_simplify_merge_flags: flag keys of one list become one. */
function mergeFlags(list: Arg[], parentAnd: boolean): boolean {
  let first: Arg | null = null;
  let removals = false;
  for (let i = 0; i < list.length; ) {
    const current = list[i]!;
    if (current.type === 'SUB' || current.type === 'OR') {
      if (mergeFlags(current.subargs, current.type !== 'OR')) removals = true;
    } else if (current.type === 'FLAGS' && current.not !== parentAnd) {
      if (!first) {
        first = current;
      } else {
        first.flags |= current.flags;
        list.splice(i, 1);
        removals = true;
        continue;
      }
    }
    i++;
  }
  return removals;
}
