/**
 * The tenant example of the OX Engage admin guide (`seeds/ox-engage.txt`, "Create new tenant"),
 * character for character, except that the guide's `true/false` (not JSON) is `true`. Tests post
 * this text verbatim: it must stay valid input for as long as Inlay claims OX Engage's REST surface,
 * and must never be "tidied" (spacing and key order are part of what is tested).
 */
export const SEED_TENANT_JSON =
  '{"id":"default", "name":"default", "keyspaceName":"mim_default", "configuration": { "secretKey":"<secretKey>", "hashedEmailAddresses": true }, "conversionPoints": [{ "id":"injection", "type": "ongage", "eventType":"injected", "description": "Dovecot Injection Tracking", "connectionInformation": { "url": "<injectionUrl>" } },{ "id":"reinjection", "type": "ongage", "eventType":"reinjected", "description": "Dovecot Re-Injection Tracking", "connectionInformation": { "url": "<reinjectionUrl>" } },{ "id":"read", "type": "ongage", "eventType":"read", "description": "Dovecot Read Tracking", "connectionInformation": { "url": "<readUrl>" } },{ "id":"expunged", "type": "ongage", "eventType":"expunged", "description": "Dovecot Expunged Tracking", "connectionInformation": { "url": "<expungedUrl>" } }], "dataSources": [{ "id":"default", "type": "ongage", "defaultDataSource": true, "deleteTemporaryImportFiles":false, "awsConnectionInformation": { "authorizationType":"rados", "accessKey":"<accessKey>", "secretKey":"<secretKey>", "endpoint":"<endpoint>", "bucket":"<bucket>" } }]}';
