/**
 * The engine behind the internal API (routes/internal.ts): a user's INBOX view of virtual
 * messages, and the changes the proxy's sessions make to it — assign (inject the campaigns that
 * apply now), reveal (raise the epoch before showing new real mail), flags, expunge.
 *
 * Each call resolves tenant and user key (tenant-directory.ts), works out which campaigns apply
 * to the user now (targeting.ts), and changes the view only through Store.changeView with a pure
 * decision (decisions.ts), so every rule is judged atomically on the view it changes. Events are
 * written after the change from what the view recorded, with ids derived from what they are
 * about (events.ts): a repeated report, or a retry after a failure, writes the same rows.
 *
 * Every answer lists only what the store holds: a visible message whose campaign stopped applying
 * is withdrawn in the store first (checked against a fresh read of the campaigns, so a stale cache
 * cannot withdraw a message that was just assigned), never merely left out.
 *
 * Must never throw for an unknown user (it gets an empty view) and never log an address.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AssignRequest, AssignResult, Campaign, EventOrigin, ExpungeRequest, FlagsRequest, InboxView, ViewKey, VirtualMessage } from '@inlay/schemas';
import { composeCampaignMessage } from '../campaigns/compose.js';
import type { Store, TenantRef, UserRecord } from '../store/store.js';
import { applyViewChange, type EngineEventRecord, type StoredView, type ViewDecide, type ViewRef } from '../store/view-types.js';
import type { ShownMessage } from '../store/event-types.js';
import {
  decideAssign,
  decideExpunge,
  decideFlags,
  decideReveal,
  decideWithdrawals,
  drawingStateEpoch,
  eligibleCampaigns,
  eraOf,
  nextEligibilityMs,
  viewFor,
  withdrawals,
  type DecisionContext,
  type PreparedMessage,
} from './decisions.js';
import type { Eligibility } from './eligibility.js';
import { engineEvent, injectionEvent, type EventSubject } from './events.js';
import { setsSeen } from './flags.js';
import { appliesNow, audienceMatches, byPriority, msUntilNextBoundary, NOBODY_KNOWN } from './targeting.js';
import { TenantDirectory, type ResolvedUser } from './tenant-directory.js';
import { TimedCache } from './timed-cache.js';
import { allocateUids } from './uids.js';

/** How long the proxy may reuse a view when no campaign boundary is nearer: campaign changes
 *  reach every session within about this long, at one view read per user per interval. */
export const DEFAULT_VIEW_TTL_MS = 5000;
/** Tenant and campaign lists are reused this long by view reads (assign reads campaigns fresh). */
export const DEFAULT_ENGINE_CACHE_MS = 3000;

export interface EngineOptions {
  readonly store: Store;
  /** Where local templates live (<dataDir>/templates/<tenant>/). */
  readonly dataDir: string;
  readonly logger?: Logger;
  /** The engine's idea of now; tests fix it. */
  readonly clock?: () => Date;
  /** 0 turns the tenant and campaign caches off (tests that change campaigns between calls). */
  readonly cacheMs?: number;
}

interface Subject {
  readonly resolved: ResolvedUser;
  readonly tenant: TenantRef;
  readonly view: ViewRef;
}

/** What applies to one user at one moment. */
interface Targeting {
  readonly now: Date;
  /** Campaigns whose stored status lets them run, highest priority first. */
  readonly campaigns: readonly Campaign[];
  readonly user: UserRecord | undefined;
  /** Those applying to the user now, highest priority first. */
  readonly applicable: readonly Campaign[];
  /** Read from the store just now (not from the cache). */
  readonly fresh: boolean;
}

const UNKNOWN_VIEW: InboxView = Object.freeze({ known: false, epoch: 0, messages: [], keywords: [], pending: 0, ttlMs: DEFAULT_VIEW_TTL_MS }) as InboxView;

export class Engine {
  private readonly store: Store;
  private readonly clock: () => Date;
  private readonly tenants: TenantDirectory;
  private readonly campaignLists: TimedCache<Campaign[]>;

  constructor(private readonly options: EngineOptions) {
    this.store = options.store;
    this.clock = options.clock ?? (() => new Date());
    const cacheMs = options.cacheMs ?? DEFAULT_ENGINE_CACHE_MS;
    // The caches age by the machine's clock, not the engine's (which tests may fix).
    this.tenants = new TenantDirectory(options.store, cacheMs, Date.now);
    this.campaignLists = new TimedCache(cacheMs, Date.now);
  }

  async view(key: ViewKey): Promise<InboxView> {
    const subject = await this.subject(key);
    if (subject === undefined) return UNKNOWN_VIEW;
    const [targeting, stored] = await Promise.all([this.targeting(subject, false), this.store.getView(subject.view)]);
    return this.present(subject, key.serverUidValidity, stored, targeting);
  }

  async reveal(key: ViewKey): Promise<InboxView> {
    const subject = await this.subject(key);
    if (subject === undefined) return UNKNOWN_VIEW;
    const [targeting, { view }] = await Promise.all([this.targeting(subject, false), this.changeView(subject.view, decideReveal)]);
    return this.present(subject, key.serverUidValidity, view, targeting);
  }

  async flags(request: FlagsRequest): Promise<InboxView> {
    const subject = await this.subject(request);
    if (subject === undefined) return UNKNOWN_VIEW;
    const [targeting, { view }] = await Promise.all([this.targeting(subject, false), this.changeView(subject.view, decideFlags(request.changes, this.changeContext(request)))]);
    if (eraOf(view, request.serverUidValidity) === 'current') {
      const reads = new Set(request.changes.filter(setsSeen).map((change) => change.uid));
      const events = view.messages.flatMap((message) => (reads.has(message.uid) && message.readAtMs !== undefined ? [engineEvent(this.eventSubject(subject, view, request.origin), message, 'read', message.readAtMs)] : []));
      await this.record(subject, events);
    }
    return this.present(subject, request.serverUidValidity, view, targeting);
  }

  async expunge(request: ExpungeRequest): Promise<InboxView> {
    const subject = await this.subject(request);
    if (subject === undefined) return UNKNOWN_VIEW;
    const [targeting, { view }] = await Promise.all([this.targeting(subject, false), this.changeView(subject.view, decideExpunge(request.uids, this.changeContext(request)))]);
    if (eraOf(view, request.serverUidValidity) === 'current') {
      const uids = new Set(request.uids);
      const events = view.messages.flatMap((message) =>
        uids.has(message.uid) && message.expungedAtMs !== undefined ? [engineEvent(this.eventSubject(subject, view, request.origin), message, 'expunged', message.expungedAtMs)] : [],
      );
      await this.record(subject, events);
    }
    return this.present(subject, request.serverUidValidity, view, targeting);
  }

  async assign(request: AssignRequest): Promise<AssignResult> {
    const subject = await this.subject(request);
    if (subject === undefined) return { ...UNKNOWN_VIEW, applied: false, assigned: [] };
    const uidValidity = request.serverUidValidity;
    const [targeting, stored] = await Promise.all([this.targeting(subject, true), this.store.getView(subject.view)]);
    // Stale already on a plain read: nothing to render. The compare-and-set checks again.
    if (stored.epoch !== request.epoch || eraOf(stored, uidValidity) === 'stale') {
      return { ...(await this.present(subject, uidValidity, stored, targeting)), applied: false, assigned: [] };
    }
    const context = this.decisionContext(targeting, uidValidity);
    const base = viewFor(stored, uidValidity);
    const afterWithdrawals = applyViewChange(base, { update: withdrawals(base, context) });
    const eligible = eligibleCampaigns(afterWithdrawals, targeting.applicable, context.nowMs);
    const slots = allocateUids(afterWithdrawals.nextUid, request.anchorServerUid, eligible.length).length;
    // Render as many as there are slots, in priority order; one that fails gives its slot to the next.
    const prepared = new Map<string, PreparedMessage>();
    for (let next = 0; prepared.size < slots && next < eligible.length; ) {
      const batch = eligible.slice(next, next + slots - prepared.size);
      next += batch.length;
      for (const [campaignId, message] of await this.render(subject, targeting, batch)) prepared.set(campaignId, message);
    }
    const assignmentId = randomUUID();
    const { view, result } = await this.changeView(
      subject.view,
      decideAssign({ epoch: request.epoch, anchorServerUid: request.anchorServerUid, assignmentId }, targeting.applicable, prepared, context),
    );
    // After a Paxos round with an unknown outcome the store retries; this call's rows are the
    // ones carrying its assignment id, whichever round wrote them.
    const mine = view.messages.filter((message) => message.assignmentId === assignmentId);
    const shown = mine.flatMap((message) => (message.body === undefined ? [] : [{ userKey: subject.view.userKey, objectId: `${view.uidValidity}:${message.uid}`, body: message.body }]));
    await this.record(subject, mine.map((message) => injectionEvent(this.eventSubject(subject, view, request.origin), message)), shown);
    const presented = await this.present(subject, uidValidity, view, targeting);
    return { ...presented, applied: result.applied || mine.length > 0, assigned: mine.map((message) => message.uid) };
  }

  // --- internals ---

  /** Every change of a view goes through here: the first write of a view draws its state epoch. */
  private changeView<Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }> {
    return this.store.changeView(ref, drawingStateEpoch(decide, randomInt(1, 0xffff_ffff)));
  }

  private async subject(key: ViewKey): Promise<Subject | undefined> {
    const resolved = await this.tenants.resolve(key.login);
    if (resolved === undefined) return undefined;
    const tenant: TenantRef = { id: resolved.tenant.id, keyspaceName: resolved.tenant.keyspaceName };
    return { resolved, tenant, view: { ...tenant, userKey: resolved.userKey, mailbox: key.mailbox } };
  }

  private async targeting(subject: Subject, fresh: boolean): Promise<Targeting> {
    const now = this.clock();
    const load = async (): Promise<Campaign[]> => (await this.store.listCampaigns(subject.tenant, { statuses: ['scheduled'] })).sort(byPriority);
    const campaigns = fresh ? await load() : await this.campaignLists.get(subject.tenant.keyspaceName, load);
    // The user record only matters to audiences other than "all", and to rendering (fresh reads
    // come before an assignment): a tenant that targets everyone costs no user read per view.
    const needsUser = fresh || campaigns.some((campaign) => campaign.audience.type !== 'all');
    const user = needsUser ? await this.store.getUser(subject.tenant, subject.resolved.userKey) : undefined;
    const applicable = campaigns.filter((campaign) => appliesNow(campaign, user ?? NOBODY_KNOWN, now));
    return { now, campaigns, user, applicable, fresh };
  }

  private decisionContext(targeting: Targeting, uidValidity: number): DecisionContext {
    const applicable = new Set(targeting.applicable.map((campaign) => campaign.id));
    return { nowMs: targeting.now.getTime(), uidValidity, applies: (campaignId) => applicable.has(campaignId) };
  }

  /** For changes that do not depend on what applies (flags, expunge): only the clock. */
  private changeContext(key: ViewKey): DecisionContext {
    return { nowMs: this.clock().getTime(), uidValidity: key.serverUidValidity, applies: () => true };
  }

  /** The answer for `stored`, after persisting the withdrawals it is due. */
  private async present(subject: Subject, uidValidity: number, stored: StoredView, targeting: Targeting): Promise<InboxView> {
    let view = stored;
    let current = targeting;
    if (withdrawals(view, this.decisionContext(current, uidValidity)).length > 0) {
      if (!current.fresh) current = await this.targeting(subject, true);
      const context = this.decisionContext(current, uidValidity);
      if (withdrawals(view, context).length > 0) view = (await this.changeView(subject.view, decideWithdrawals(context))).view;
    }
    const era = eraOf(view, uidValidity);
    const seen = viewFor(view, uidValidity);
    const nowMs = current.now.getTime();
    const user = current.user ?? NOBODY_KNOWN;
    const waits = [
      DEFAULT_VIEW_TTL_MS,
      msUntilNextBoundary(current.campaigns.filter((campaign) => audienceMatches(campaign.audience, user)), current.now),
      era === 'stale' ? undefined : nextEligibilityMs(seen, current.applicable, nowMs),
    ].filter((ms): ms is number => ms !== undefined);
    return {
      known: true,
      epoch: view.epoch,
      ...(view.stateEpoch === 0 ? {} : { stateEpoch: view.stateEpoch }),
      messages: era === 'current' ? view.messages.filter((message) => message.state === 'visible').map(toVirtualMessage) : [],
      ...(era === 'current' ? { uidNext: view.nextUid } : {}),
      keywords: era === 'current' ? [...view.keywords] : [],
      pending: era === 'stale' ? 0 : eligibleCampaigns(seen, current.applicable, nowMs).length,
      ttlMs: Math.max(0, Math.ceil(Math.min(...waits))),
    };
  }

  /** Renders each chosen campaign for the user; one that fails is left out (and logged), so a
   *  broken template or an unreachable bucket never blocks the others. */
  private async render(subject: Subject, targeting: Targeting, chosen: readonly { campaign: Campaign; eligibility: Eligibility & { eligible: true } }[]): Promise<Map<string, PreparedMessage>> {
    const prepared = new Map<string, PreparedMessage>();
    await Promise.all(
      chosen.map(async ({ campaign, eligibility }) => {
        try {
          const composed = await composeCampaignMessage({
            tenant: subject.resolved.tenant,
            campaign,
            address: subject.resolved.address,
            userKey: subject.resolved.userKey,
            user: targeting.user,
            dataDir: this.options.dataDir,
            now: targeting.now,
            ordinal: eligibility.ordinal,
          });
          prepared.set(campaign.id, {
            campaignId: campaign.id,
            campaignRevision: campaign.revision,
            variantId: composed.variantId,
            messageId: composed.messageId,
            contentHash: createHash('sha256').update(composed.message).digest('hex'),
            body: composed.message,
            internalDateMs: composed.date.getTime(),
          });
        } catch (error) {
          this.options.logger?.warn({ tenant: subject.tenant.id, campaign: campaign.id, err: (error as Error).message }, 'campaign message could not be rendered; not injected');
        }
      }),
    );
    return prepared;
  }

  private eventSubject(subject: Subject, view: StoredView, origin: EventOrigin | undefined): EventSubject {
    return { tenantId: subject.tenant.id ?? '', view: subject.view, uidValidity: view.uidValidity, origin };
  }

  private async record(subject: Subject, events: readonly EngineEventRecord[], shown: readonly ShownMessage[] = []): Promise<void> {
    if (events.length > 0) await this.store.recordEvents(subject.tenant, events, shown);
  }
}

function toVirtualMessage(message: StoredView['messages'][number]): VirtualMessage {
  return {
    uid: message.uid,
    campaignId: message.campaignId,
    variantId: message.variantId,
    internalDate: new Date(message.internalDateMs).toISOString(),
    flags: [...message.flags],
    ...(message.flagsChanges === undefined ? {} : { flagsChanges: message.flagsChanges }),
    rfc822: (message.body ?? Buffer.alloc(0)).toString('base64'),
  };
}
