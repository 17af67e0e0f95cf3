// Field paths in validation messages.
import { expect, test } from 'vitest';
import { fieldPath } from './validation.js';

test.each([
  ['body', '', undefined, 'body'],
  ['body', '/dataSources/0/awsConnectionInformation/bucket', undefined, 'body.dataSources[0].awsConnectionInformation.bucket'],
  ['body', '/configuration', 'secretKey', 'body.configuration.secretKey'],
  ['querystring', '', 'createDB', 'querystring.createDB'],
  ['body', '/odd key', undefined, 'body["odd key"]'],
  ['body', '/a~1b~0c', undefined, 'body["a/b~c"]'],
])('%s %s %s → %s', (context, instancePath, child, expected) => {
  expect(fieldPath(context, instancePath, child)).toBe(expected);
});

test('a hostile property name is quoted and cut short', () => {
  const path = fieldPath('body', '', `${'"'.repeat(200)}\u0000`);
  expect(path.length).toBeLessThan(160);
  expect(path).not.toContain('\u0000');
});
