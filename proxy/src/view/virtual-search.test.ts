import { describe, expect, it } from 'vitest';
import { InboxMap } from './inbox-map.js';
import type { Selection } from './inbox-types.js';
import { MailboxFlags } from './mailbox-flags.js';
import { tokenizeSearchArguments } from './search-parse.js';
import { prepareSearch } from './virtual-search.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

const inbox: Inbox = { kind: 'inbox', readOnly: false, map: new InboxMap(3), key: { login: 'u', mailbox: 'INBOX', serverUidValidity: 1 }, flags: new MailboxFlags(), syncedUidNext: 4, viewUidBound: 4, stateEpoch: 0, stateEpochGuessed: false };

function namesSets(criteria: string): boolean {
  const line = `t UID SEARCH ${criteria}\r\n`;
  return prepareSearch(inbox, tokenizeSearchArguments({ segments: [Buffer.from(line, 'latin1')], literals: [] }, 'T UID SEARCH'.length)).namesMessageSets;
}

describe('a search that names messages by set', () => {
  it('is one whose criteria keep a sequence or UID set after Dovecot rewrites them', () => {
    expect(namesSets('1:2 SEEN')).toBe(true);
    expect(namesSets('NOT UID 16:32')).toBe(true);
    expect(namesSets('NOT 7')).toBe(true);
    expect(namesSets('OR FLAGGED (UID 16 SEEN)')).toBe(true);
    expect(namesSets('SEEN BODY "x"')).toBe(false);
    // OR with ALL is ALL: the set is gone before Dovecot decides how to sync.
    expect(namesSets('NOT OR UID 16:* ALL')).toBe(false);
  });
});
