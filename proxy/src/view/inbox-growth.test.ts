import { describe, expect, it } from 'vitest';
import { appendedToInbox } from './inbox-growth.js';

describe("an APPEND's own UIDs", () => {
  it('are read from APPENDUID when it names the INBOX', () => {
    expect(appendedToInbox('a1 OK [APPENDUID 38505 3955] APPEND completed', 38505)).toEqual([3955]);
    expect(appendedToInbox('a1 OK [appenduid 38505 7:9,4] done', 38505)).toEqual([4, 7, 8, 9]); // MULTIAPPEND
  });

  it('are unknown for another mailbox, another UIDVALIDITY, or no APPENDUID', () => {
    expect(appendedToInbox('a1 OK [APPENDUID 1 3955] APPEND completed', 38505)).toBeUndefined();
    expect(appendedToInbox('a1 OK APPEND completed', 38505)).toBeUndefined();
    expect(appendedToInbox('a1 NO [TRYCREATE] no such mailbox', 38505)).toBeUndefined();
  });
});
