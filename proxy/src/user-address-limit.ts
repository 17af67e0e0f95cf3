/**
 * Logged-in sessions per user and client address, as Dovecot's mail_max_userip_connections
 * counts them: a login beyond the limit is refused, so one misconfigured device cannot hold
 * every connection a user's mail server grants, while the other users behind the same NAT or
 * webmail address are not counted against it.
 *
 * A session takes a lease when its login succeeds and gives it back when it ends; checking and
 * taking happen in one synchronous call, so two logins finishing together cannot both pass.
 * Must never: count a session twice, or keep a count for a pair with no session.
 */

export interface UserAddressLease {
  /** Gives the slot back; safe to call more than once. */
  release(): void;
}

const NO_LEASE_NEEDED: UserAddressLease = { release: () => {} };

export class UserAddressSessions {
  private readonly counts = new Map<string, number>();

  /** `max` 0: no limit (nothing is counted). */
  constructor(readonly max: number) {}

  /** A lease for one more session of `user` from `address`, or null when that would pass the limit. */
  admit(user: string, address: string): UserAddressLease | null {
    if (this.max === 0) return NO_LEASE_NEEDED;
    const key = keyOf(user, address);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) return null;
    this.counts.set(key, count + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.counts.get(key) ?? 1) - 1;
        if (left <= 0) this.counts.delete(key);
        else this.counts.set(key, left);
      },
    };
  }

  /** Sessions counted for the pair now (for tests and the log). */
  count(user: string, address: string): number {
    return this.counts.get(keyOf(user, address)) ?? 0;
  }

  /** Pairs with at least one session. */
  get pairs(): number {
    return this.counts.size;
  }
}

/**
 * Login names are compared without case (mail servers treat `Alice` and `alice` as one
 * account nearly everywhere; counting them apart would double the limit for a client that
 * changes case). An IPv4 address seen through an IPv6 listener counts as the IPv4 address.
 */
function keyOf(user: string, address: string): string {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return `${plain}\u0000${user.toLowerCase()}`;
}
