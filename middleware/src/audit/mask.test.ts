// The audit trail's masking and diffing: every kind of secret our payloads carry is masked, what
// is not a secret is kept verbatim, and a changed secret is a visible change without its value.
import { describe, expect, test } from 'vitest';
import { SECRET_MASK, isSecretField, maskSecrets, maskUrl } from './mask.js';
import { MAX_DIFF_CHANGES, diffStates } from './diff.js';

describe('maskSecrets', () => {
  test("masks the tenant's HMAC key and a data source's S3 keys, keeps everything else", () => {
    const tenant = {
      id: 'acme',
      configuration: { secretKey: 'hmac-key', hashedEmailAddresses: true, secretKeySet: true },
      dataSources: [{ id: 'main', awsConnectionInformation: { authorizationType: 'rados', accessKey: 'AKIA', secretKey: 's3-secret', endpoint: 'http://s3', bucket: 'b' } }],
    };
    expect(maskSecrets(tenant)).toEqual({
      id: 'acme',
      configuration: { secretKey: SECRET_MASK, hashedEmailAddresses: true, secretKeySet: true },
      dataSources: [{ id: 'main', awsConnectionInformation: { authorizationType: 'rados', accessKey: SECRET_MASK, secretKey: SECRET_MASK, endpoint: 'http://s3', bucket: 'b' } }],
    });
    expect(tenant.configuration.secretKey).toBe('hmac-key'); // a copy: the input is untouched
  });

  test("masks a point's signing secrets, tokens and credentials under any usual name", () => {
    const masked = maskSecrets({
      secrets: [{ secret: 'whsec_abc', createdAtMs: 1 }],
      token: 'inlay_t_x',
      tokenHash: 'ab12',
      tokenId: '7d3c',
      password: 'pw',
      client_secret: 'cs',
      'api-key': 'k',
      Authorization: 'Bearer x',
      nested: { deep: [{ privateKey: '-----BEGIN' }] },
    });
    expect(masked).toEqual({
      secrets: SECRET_MASK,
      token: SECRET_MASK,
      tokenHash: SECRET_MASK,
      tokenId: '7d3c',
      password: SECRET_MASK,
      client_secret: SECRET_MASK,
      'api-key': SECRET_MASK,
      Authorization: SECRET_MASK,
      nested: { deep: [{ privateKey: SECRET_MASK }] },
    });
    expect(JSON.stringify(masked)).not.toMatch(/whsec_abc|inlay_t_x|ab12|"pw"|BEGIN/);
  });

  test('keeps null and absent secrets visible as such, and leaves non-secrets alone', () => {
    expect(maskSecrets({ secretKey: null, name: 'Secret sale', objectKey: 'lists/a.csv', routingKey: 'r', keyspaceName: 'ks', count: 3, on: false })).toEqual({
      secretKey: null,
      name: 'Secret sale',
      objectKey: 'lists/a.csv',
      routingKey: 'r',
      keyspaceName: 'ks',
      count: 3,
      on: false,
    });
    expect(maskSecrets(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(maskSecrets(null)).toBeNull();
  });

  test.each([
    ['amqp://inlay:s3cret@mq.example:5672/vhost', `amqp://inlay:${SECRET_MASK}@mq.example:5672/vhost`],
    ['https://user:p%40ss@hooks.example/x?a=1', `https://user:${SECRET_MASK}@hooks.example/x?a=1`],
    ['https://track.example/r?event={{eventId}}&key=abc&token=t0&Sig=zz#frag', `https://track.example/r?event={{eventId}}&key=${SECRET_MASK}&token=${SECRET_MASK}&Sig=${SECRET_MASK}#frag`],
    ['https://track.example/r?api%5Fkey=1&user={{userKey}}', `https://track.example/r?api%5Fkey=${SECRET_MASK}&user={{userKey}}`],
    ['https://user@hooks.example/', 'https://user@hooks.example/'],
    ['https://track.example/{{eventType}}', 'https://track.example/{{eventType}}'],
    ['not a url: password=1', 'not a url: password=1'],
  ])('URL %s → %s', (url, expected) => {
    expect(maskUrl(url)).toBe(expected);
    expect(maskSecrets({ connectionInformation: { url } })).toEqual({ connectionInformation: { url: expected } });
  });

  test('a value nested deeper than anything we store is masked whole, not walked', () => {
    let value: unknown = { secretKey: 'deep-secret' };
    for (let depth = 0; depth < 100; depth++) value = { next: value };
    expect(JSON.stringify(maskSecrets(value))).not.toContain('deep-secret');
  });

  test.each(['secretKey', 'SECRET', 'password', 'webhookSecret', 'accessToken', 'apiKey', 'accessKey'])('%s is a secret field', (name) => expect(isSecretField(name)).toBe(true));
  test.each(['secretKeySet', 'tokenId', 'objectKey', 'routingKey', 'keyspaceName', 'name', 'userKey'])('%s is not', (name) => expect(isSecretField(name)).toBe(false));
});

describe('diffStates', () => {
  const source = (id: string, bucket: string, secretKey: string) => ({ id, awsConnectionInformation: { bucket, secretKey } });

  test('lists the changed leaves, matching list items by id', () => {
    const before = { name: 'A', dataSources: [source('one', 'b1', 'k1'), source('two', 'b2', 'k2')] };
    const after = { name: 'B', dataSources: [source('two', 'b2-new', 'k2')] };
    expect(diffStates(before, after)).toEqual([
      { path: 'dataSources[id=one]', before: { id: 'one', awsConnectionInformation: { bucket: 'b1', secretKey: SECRET_MASK } } },
      { path: 'dataSources[id=two].awsConnectionInformation.bucket', before: 'b2', after: 'b2-new' },
      { path: 'name', before: 'A', after: 'B' },
    ]);
  });

  test('a changed secret is a change with both sides masked; an unchanged one is none', () => {
    expect(diffStates(source('one', 'b', 'old-key'), source('one', 'b', 'new-key'))).toEqual([{ path: 'awsConnectionInformation.secretKey', before: SECRET_MASK, after: SECRET_MASK }]);
    expect(diffStates(source('one', 'b', 'same'), source('one', 'b', 'same'))).toEqual([]);
    expect(diffStates({ secrets: [{ secret: 'whsec_1' }] }, { secrets: [{ secret: 'whsec_1' }, { secret: 'whsec_2' }] })).toEqual([{ path: 'secrets[1]', after: SECRET_MASK }]);
  });

  test('creation and deletion: the whole target on one side, masked', () => {
    expect(diffStates(null, { id: 'acme', configuration: { secretKey: 'k' } })).toEqual([{ path: '', after: { id: 'acme', configuration: { secretKey: SECRET_MASK } } }]);
    expect(diffStates({ id: 'acme' }, null)).toEqual([{ path: '', before: { id: 'acme' } }]);
  });

  test('list without ids compare by position; URL credentials masked in a change', () => {
    expect(diffStates({ urls: ['amqp://u:one@h/', 'x'] }, { urls: ['amqp://u:two@h/', 'x'] })).toEqual([{ path: 'urls[0]', before: `amqp://u:${SECRET_MASK}@h/`, after: `amqp://u:${SECRET_MASK}@h/` }]);
  });

  test('dates compare by instant; types that differ are a change', () => {
    expect(diffStates({ at: new Date(5) }, { at: new Date(5) })).toEqual([]);
    expect(diffStates({ v: 1 }, { v: '1' })).toEqual([{ path: 'v', before: 1, after: '1' }]);
  });

  test('a huge change is summarised as one change of the whole target', () => {
    const many = (value: number) => Object.fromEntries(Array.from({ length: MAX_DIFF_CHANGES + 5 }, (_, index) => [`k${index}`, value]));
    const changes = diffStates(many(1), many(2));
    expect(changes).toHaveLength(1);
    expect(changes[0]!.path).toBe('');
  });
});
