/**
 * The one configuration file of an Inlay node, as a JSON Schema with its
 * TypeScript type. Every key can be overridden by an environment variable
 * whose name is derived from the key's path (see `envNameFor` in
 * config-loader.ts): `proxy.limits.maxLineBytes` ← `INLAY_PROXY_LIMITS_MAX_LINE_BYTES`.
 * The layout is chosen so the documented names fall out of that one rule:
 * `upstream` ← INLAY_UPSTREAM, `tlsCert` ← INLAY_TLS_CERT, `dataDir` ← INLAY_DATA_DIR.
 *
 * Defaults live here and nowhere else; each limit says why it has its value.
 */
import { Type, type Static } from '@sinclair/typebox';

/** `host:port`, `[v6]:port`; port 0 asks the kernel for a free one (tests). */
const ListenAddress = Type.String({
  pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$',
  description: 'host:port to listen on, e.g. 0.0.0.0:143 or [::]:143; port 0 picks a free port',
});

export const ProxyLimitsSchema = Type.Object(
  {
    /** Dovecot and RFC 7162 §4 both settle on 8 KiB as the minimum a client may rely on; 64 KiB
     *  is Dovecot's own imap_max_line_length, so anything the upstream accepts we accept too. */
    maxLineBytes: Type.Integer({ minimum: 8192, maximum: 16_777_216, default: 65_536 }),
    /** Only credentials travel as literals before login; 8 KiB holds any real password or token
     *  and stops an unauthenticated client from making us buffer more. */
    maxPreAuthLiteralBytes: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 8192 }),
    /** Dovecot disconnects after 20 invalid commands (CLIENT_MAX_BAD_COMMANDS); a client that
     *  keeps sending garbage past that is broken or hostile, not unlucky. */
    maxBadCommands: Type.Integer({ minimum: 1, maximum: 100_000, default: 20 }),
    /** Time to greet, negotiate TLS and log in. Dovecot's login processes allow about a minute;
     *  longer only ties sockets up for scanners. */
    preAuthTimeoutMs: Type.Integer({ minimum: 1000, default: 60_000 }),
    /** RFC 3501 §5.4: an inactivity autologout timer must be at least 30 minutes. */
    authenticatedTimeoutMs: Type.Integer({ minimum: 1000, default: 1_800_000 }),
    /** While in IDLE (RFC 2177) clients re-issue IDLE every 29 minutes at most, so the timer must
     *  never be shorter than 30 minutes; 31 leaves slack for slow mobile networks. */
    idleTimeoutMs: Type.Integer({ minimum: 1_800_000, default: 1_860_000 }),
    /** Each connection holds two sockets and two file descriptors; the total bounds them below
     *  the process's descriptor limit (systemd unit sets LimitNOFILE=65536). */
    maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20_000 }),
    /** A household or office behind one NAT address runs a few devices with several connections
     *  each (Dovecot's default is 10 per user and address); 100 per address leaves room for a
     *  carrier-grade NAT while stopping one host from taking every slot. */
    maxConnectionsPerAddress: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100 }),
    /** Networks (CIDR) whose addresses the per-address limit does not apply to: a webmail server or
     *  a carrier NAT puts thousands of users behind one address, and counting them as one host
     *  would lock them all out. `trustedNetworks` are exempt too (a proxy in front of us is one
     *  such address). The total limit still applies. */
    exemptNetworks: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: 1024 }),
    /** Logged-in sessions of one user from one client address (the address a trusted proxy names
     *  in IMAP ID, else the connecting one), as Dovecot's mail_max_userip_connections counts them;
     *  a login beyond it is refused. 0: no limit here — the default, because the upstream gets
     *  that same address in our IMAP ID and enforces its own (Dovecot: 10 by default); set it
     *  when the upstream does not. */
    maxConnectionsPerUserAddress: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
    /** How long to wait for the upstream to accept, greet, and finish TLS before telling the
     *  client the server is unavailable. */
    upstreamConnectTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    /** Upstream connections kept greeted and ready, so a login skips connect, greeting and TLS
     *  handshake; 0 turns this off. A handful covers hundreds of logins a second. */
    upstreamPoolSize: Type.Integer({ minimum: 0, maximum: 1000, default: 4 }),
    /** Dovecot drops a connection that has not logged in after about a minute; spares are
     *  replaced well before that. */
    upstreamPoolIdleMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
    /** On SIGTERM, how long connections get to finish the response in flight after BYE
     *  before they are cut. systemd's TimeoutStopSec in the unit is larger than this. */
    shutdownDrainMs: Type.Integer({ minimum: 0, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** How the proxy reaches the middleware's internal engine API (INBOX views of virtual messages). */
export const ProxyEngineSchema = Type.Object(
  {
    /** Base URL of the middleware (http://127.0.0.1:8080). Unset: the middleware of this
     *  configuration (http.listen, on loopback), so `npm start` injects with no setting. Empty:
     *  no injection, INBOX UIDs are still translated so that turning injection on later needs no
     *  client resync. */
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    /** A view request slower than this is abandoned and the session goes on without injection:
     *  mail access never waits long for the campaign side. */
    timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 500 }),
    /** How long a user's view is reused by that user's sessions on this node before it is asked
     *  for again; campaign changes show within about this long. */
    viewCacheMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 5000 }),
    /** After three calls in a row get no answer at all (timeout, connection refused), none is
     *  made for this long: a hung middleware then costs a command nothing instead of timeoutMs
     *  each. 0: never stop asking. */
    suspendMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5000 }),
  },
  { additionalProperties: false, default: {} },
);

/** The POP3 listener (proxy/src/pop3/): POP3 clients see the same campaign messages as IMAP ones,
 *  in front of the server's own POP3. Off unless a listen address is set. */
export const ProxyPop3Schema = Type.Object(
  {
    /** Plain POP3 with STLS (RFC 2595) when tlsCert/tlsKey are set. Empty: off. */
    listen: Type.Union([ListenAddress, Type.Literal('')], { default: '' }),
    /** Implicit TLS (POP3S, RFC 8314). Needs tlsCert and tlsKey. Empty: off. */
    tlsListen: Type.Union([ListenAddress, Type.Literal('')], { default: '' }),
    /** The real POP3 server: pop3://host:port (plain), pop3+stls://host:port, pop3s://host:port.
     *  The certificate is checked as for the IMAP upstream (upstreamTls). */
    upstream: Type.String({
      pattern: '^(pop3|pop3\\+stls|pop3s)://[^/\\s]+$',
      default: 'pop3://127.0.0.1:110',
      description: 'pop3://host:port, pop3+stls://host:port or pop3s://host:port',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const ProxyConfigSchema = Type.Object(
  {
    /** Plain IMAP with STARTTLS. An empty string turns the listener off. */
    listen: Type.Union([ListenAddress, Type.Literal('')], { default: '127.0.0.1:1143' }),
    /** Implicit TLS (IMAPS). Needs tlsCert and tlsKey. Off unless set. */
    tlsListen: Type.Optional(Type.Union([ListenAddress, Type.Literal('')])),
    /** Advertise LOGINDISABLED and refuse LOGIN/AUTHENTICATE until the client has started TLS. */
    loginRequiresTls: Type.Boolean({ default: false }),
    /** Clients in these networks (CIDR) are proxies themselves: their IMAP ID x-originating-*
     *  and x-proxy-ttl fields are believed and passed on. Everyone else's are ignored. */
    trustedNetworks: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Hops a login may take through chained proxies before it is refused as a loop
     *  (Dovecot's default for x-proxy-ttl is 5). */
    proxyTtl: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
    /** How the proxy names itself in its greeting and IMAP ID, and in the x-proxy-name it adds to
     *  the ID it sends upstream, so operators can tell its traffic apart in upstream logs. */
    idName: Type.String({ minLength: 1, maxLength: 100, default: 'Inlay' }),
    idVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** Prometheus metrics and health checks (/metrics, /healthz, /readyz) over plain HTTP, on a
     *  listener of their own so they never share a port with IMAP. Off unless set; keep it on
     *  loopback or an operations network — the figures tell an outsider how busy you are. */
    metricsListen: Type.Union([ListenAddress, Type.Literal('')], { default: '' }),
    limits: ProxyLimitsSchema,
    engine: ProxyEngineSchema,
    pop3: ProxyPop3Schema,
  },
  { additionalProperties: false, default: {} },
);

/** The TLS versions a side may negotiate at least. 1.0 and 1.1 are not offered: RFC 8996
 *  retired them, and RFC 8314 asks mail to follow. */
const TlsMinVersion = Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2' });

/** An OpenSSL cipher list; TLS 1.3 suites by their `TLS_` names in the same list. */
const TlsCipherList = Type.String({
  minLength: 1,
  maxLength: 4096,
  pattern: '^[A-Za-z0-9_:+!@=.,\\- ]+$',
  description: 'an OpenSSL cipher list such as ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384',
});

export const UpstreamTlsSchema = Type.Object(
  {
    /** Lowest TLS version accepted from the upstream (imaps:// and imap+starttls://). */
    minVersion: TlsMinVersion,
    /** Cipher suites offered to the upstream; unset: Node's defaults. */
    ciphers: Type.Optional(TlsCipherList),
    /** Verify the upstream's certificate chain and name. Turning this off is for lab use only. */
    verifyCertificate: Type.Boolean({ default: true }),
    /** PEM file of extra CAs to trust for the upstream (a private CA); system CAs still apply. */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Name to verify the certificate against, when it differs from the upstream host. */
    servername: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);

/** A CQL identifier Cassandra accepts unquoted (keyspace names are at most 48 characters); names
 *  starting with `system` belong to Cassandra itself. */
const KeyspaceName = Type.String({
  pattern: '^(?!system)[a-z][a-z0-9_]{0,47}$',
  description: 'a lowercase letter, then up to 47 lowercase letters, digits or underscores, not starting with "system"',
  default: 'inlay',
});

export const CassandraReplicationSchema = Type.Object(
  {
    /** SimpleStrategy for a single data centre (development); NetworkTopologyStrategy in production. */
    class: Type.Union([Type.Literal('SimpleStrategy'), Type.Literal('NetworkTopologyStrategy')], { default: 'SimpleStrategy' }),
    /** Copies of each row under SimpleStrategy. 1 suits a development node only; production uses
     *  NetworkTopologyStrategy with at least 2 per data centre (the OX Engage guide says the same). */
    replicationFactor: Type.Integer({ minimum: 1, maximum: 20, default: 1 }),
    /** Under NetworkTopologyStrategy: `datacenter:factor` per data centre, e.g. ["dc1:3", "dc2:3"]
     *  (in the environment: INLAY_STORAGE_CASSANDRA_REPLICATION_DATA_CENTERS=dc1:3,dc2:3). */
    dataCenters: Type.Array(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}:[0-9]{1,2}$', description: 'datacenter:factor, e.g. dc1:3' }),
      { default: [], maxItems: 64 },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const CassandraConfigSchema = Type.Object(
  {
    /** host or host:port (9042 when left out); the driver discovers the rest of the ring. */
    contactPoints: Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { minItems: 1, default: ['127.0.0.1:9042'] }),
    /** The data centre this node's queries go to (SimpleSnitch calls its only one datacenter1). */
    localDataCenter: Type.String({ minLength: 1, maxLength: 100, default: 'datacenter1' }),
    /** Shared keyspace holding every tenant's configuration and API tokens; each tenant's own
     *  data lives in the keyspace its `keyspaceName` names. */
    registryKeyspace: KeyspaceName,
    /** Used for the registry keyspace and for tenant keyspaces created with `createDB=true`. */
    replication: CassandraReplicationSchema,
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** Keep it in the environment (INLAY_STORAGE_CASSANDRA_PASSWORD), not in the file. */
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false, default: {} },
);

export const StorageConfigSchema = Type.Object(
  {
    /** `embedded`: one LMDB file in dataDir, for a single machine and for `npm start`.
     *  `cassandra`: the production store, shared by every middleware node. */
    kind: Type.Union([Type.Literal('embedded'), Type.Literal('cassandra')], { default: 'embedded' }),
    cassandra: CassandraConfigSchema,
  },
  { additionalProperties: false, default: {} },
);

export const InlayConfigSchema = Type.Object(
  {
    /** The real IMAP server: imap://host:port (plain), imap+starttls://host:port, imaps://host:port. */
    upstream: Type.String({
      pattern: '^(imap|imap\\+starttls|imaps)://[^/\\s]+$',
      default: 'imap://127.0.0.1:143',
      description: 'imap://host:port, imap+starttls://host:port or imaps://host:port',
    }),
    upstreamTls: UpstreamTlsSchema,
    /** PEM certificate chain and key the proxy presents to clients (STARTTLS and implicit TLS). */
    tlsCert: Type.Optional(Type.String({ minLength: 1 })),
    tlsKey: Type.Optional(Type.String({ minLength: 1 })),
    /** Lowest TLS version clients may use (STARTTLS and implicit TLS). TLSv1.3 shuts out older
     *  clients (Outlook before 2019 on Windows 7/8, Android before 10). */
    tlsMinVersion: TlsMinVersion,
    /** Cipher suites clients may use; unset: Node's defaults. A list that names no TLS 1.3 suite
     *  (`TLS_…`) leaves OpenSSL's TLS 1.3 suites on; one that names only TLS 1.3 suites rules TLS
     *  1.2 out. Checked at start: a list OpenSSL matches nothing of stops start-up. */
    tlsCiphers: Type.Optional(TlsCipherList),
    /** Where the embedded store and local templates live. */
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Bearer token with every right on the REST API. Keep it in the environment, not the file. */
    adminToken: Type.Optional(Type.String({ minLength: 16 })),
    /** Bearer token the proxy presents to the middleware's internal engine API. Unset: both read
     *  `<dataDir>/internal-token`, generated on first start (mode 0600). Set it when the two
     *  processes run on different hosts. */
    internalToken: Type.Optional(Type.String({ minLength: 16 })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      { default: 'info' },
    ),
    proxy: ProxyConfigSchema,
    /** The middleware's Prometheus metrics (/metrics, plus /healthz and /readyz) on a listener of
     *  their own. Off unless set; /healthz and /readyz also answer on http.listen. */
    metricsListen: Type.Union([ListenAddress, Type.Literal('')], { default: '' }),
    http: Type.Object(
      { listen: Type.Union([ListenAddress, Type.Literal('')], { default: '127.0.0.1:8080' }) },
      { additionalProperties: false, default: {} },
    ),
    /** Where the middleware keeps tenants, campaigns and per-user state. */
    storage: StorageConfigSchema,
    /** Engine events (injected, reinjected, read, expunged) and what is kept of them. */
    events: Type.Object(
      {
        /** Events, their listing indexes and tracked messages (with the bytes a user was shown)
         *  are kept this long: TTL on Cassandra, an hourly sweep on the embedded store. Report
         *  counters are kept for good. */
        retentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The audit trail of REST changes (middleware/src/audit/). */
    audit: Type.Object(
      {
        /** Audit entries are kept this long: TTL on Cassandra, an hourly sweep on the embedded
         *  store. A year by default: long enough for an annual review of who changed what. */
        retentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 365 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Delivery of events to conversion points (middleware/src/delivery/). */
    delivery: Type.Object(
      {
        /** Waits between attempts, in seconds (INLAY_DELIVERY_RETRY_SCHEDULE=5,300,…): Standard
         *  Webhooks' schedule, about 28 hours in all, so a receiver down over a night loses
         *  nothing. After the last one a delivery is dead (kept, and can be resent). */
        retrySchedule: Type.String({ pattern: '^\\s*\\d{1,7}\\s*(,\\s*\\d{1,7}\\s*){0,49}$', default: '5,300,1800,7200,18000,36000,36000' }),
        /** Networks (CIDR) conversion points may reach although they are loopback, private or
         *  link-local (INLAY_DELIVERY_ALLOWED_NETWORKS=127.0.0.0/8): by default a tenant cannot
         *  make the middleware call into the network it runs in. */
        allowedNetworks: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: 256 }),
        /** Standard Webhooks: a receiver answers within 15 s or the attempt failed. */
        attemptTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 15_000 }),
        /** Attempts in flight per node: a slow receiver holds sockets, not the event loop. */
        concurrency: Type.Integer({ minimum: 1, maximum: 10_000, default: 128 }),
        /** How long a node holds a shard of the outbox without renewing; another node takes it
         *  over this long after the holder died. Longer than an attempt (plus 5 s) by need. */
        leaseMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
        /** Delivery logs (attempts, finished deliveries) are kept this long. */
        logRetentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The middleware's injection engine. */
    engine: Type.Object(
      {
        /** How long a node reuses the tenant list and a tenant's campaigns when answering views:
         *  a started or ended campaign shows within about this long. 0 reads them every time. */
        campaignCacheMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 3000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type InlayConfig = Static<typeof InlayConfigSchema>;
export type ProxyConfig = Static<typeof ProxyConfigSchema>;
export type ProxyLimits = Static<typeof ProxyLimitsSchema>;
export type ProxyEngineConfig = Static<typeof ProxyEngineSchema>;
export type ProxyPop3Config = Static<typeof ProxyPop3Schema>;
export type UpstreamTlsConfig = Static<typeof UpstreamTlsSchema>;
export type StorageConfig = Static<typeof StorageConfigSchema>;
export type CassandraConfig = Static<typeof CassandraConfigSchema>;
export type CassandraReplication = Static<typeof CassandraReplicationSchema>;

/** Keys whose values are secrets: never logged, never echoed in an error. */
export const SECRET_CONFIG_KEYS: readonly string[] = ['adminToken', 'internalToken', 'storage.cassandra.password'];
