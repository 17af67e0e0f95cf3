// Injection on by default, and mail never depending on it: a proxy with no engine URL and no
// internal token set reaches for <dataDir>/internal-token; when that cannot be read or written it
// starts anyway, without injection, and says why in one warning (never with a token in it).
import { expect, inject, it } from 'vitest';
import { dovecotFromInfo } from '../services/dovecot.ts';
import { startProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { userWithMail } from '../helpers/fixtures.ts';

const dovecot = dovecotFromInfo(inject('dovecot'));

it('a proxy whose data directory cannot hold the internal token serves mail without injection and says so', async () => {
  const proxy = await startProxy({
    env: {
      INLAY_UPSTREAM: `imap://127.0.0.1:${dovecot.port}`,
      // Unset is the default (http.listen); the helper sets '' unless told, so name it here.
      INLAY_PROXY_ENGINE_URL: 'http://127.0.0.1:9',
      INLAY_DATA_DIR: '/dev/null/inlay', // not a directory: the token file can be neither read nor made
      INLAY_LOG_LEVEL: 'info',
    },
  });
  try {
    const warning = proxy.logs().find((line) => line['code'] === 'INLAY_PROXY_NO_INTERNAL_TOKEN');
    expect(warning).toBeDefined();
    expect(proxy.logs().find((line) => line['event'] === 'engine')).toMatchObject({ engineUrl: null });
    const user = await userWithMail(dovecot, 2);
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    expect(await client.command('l', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l OK/);
    expect(await client.command('s', 'SELECT INBOX')).toMatch(/\* 2 EXISTS[\s\S]*s OK/);
    client.close();
  } finally {
    expect(await proxy.stop()).toBe(0);
  }
});
