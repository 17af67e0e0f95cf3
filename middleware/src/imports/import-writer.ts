/**
 * The write side of one import: collects mapped users and per-row errors into batches of
 * IMPORT_BATCH_ROWS and hands each batch to the store while the reader parses the next, with at
 * most IMPORT_WRITES_IN_FLIGHT batches outstanding. When that many are out, `add` waits for the
 * oldest: that wait is the backpressure that stops the reader (and so the S3 socket) while the
 * store is behind, which bounds memory to about (in flight + 1) batches whatever the file's size.
 *
 * Progress goes to the import record at most every PROGRESS_INTERVAL_MS, not per batch: a
 * million-row import saves it a few dozen times, not two thousand.
 *
 * A store failure is kept and thrown by the next `add` or by `drain`; the writes already in
 * flight are waited for, so nothing writes after the import has ended.
 */
import type { ImportRecord, ImportRowError, Store, TenantRef, UserUpsert } from '../store/store.js';

/** Rows per store write: an LMDB write transaction or a set of Cassandra batches. Large enough
 *  that per-batch costs (a commit and its flush, an await) vanish per row; small enough that a
 *  batch is well under a MiB. */
export const IMPORT_BATCH_ROWS = 2000;
/** Batches handed to the store and not finished yet. Two keeps the store busy while the reader
 *  fills the next; more only holds more memory (measured on LMDB: 4, or batches of 5,000, were
 *  no faster, and the heap grew with them). */
export const IMPORT_WRITES_IN_FLIGHT = 2;
/** How often a running import's counters are saved, so GET shows progress while it runs. */
export const PROGRESS_INTERVAL_MS = 1000;
/** Per-row errors kept per import; a file with a million bad rows is a wrong file, and the first
 *  thousand say why. The rest are counted in rowsFailed. */
export const MAX_STORED_ROW_ERRORS = 1000;

export interface ImportCounts {
  rowsRead: number;
  rowsImported: number;
  rowsFailed: number;
}

export class ImportWriter {
  readonly counts: ImportCounts = { rowsRead: 0, rowsImported: 0, rowsFailed: 0 };
  private users: UserUpsert[] = [];
  private errors: ImportRowError[] = [];
  private storedErrors = 0;
  private readonly inFlight: Promise<void>[] = [];
  private failure: { error: unknown } | undefined;
  private lastProgressMs = Date.now();
  private progressSave: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly tenant: TenantRef,
    private readonly importId: string,
    /** The record as it should be saved with the current counts (status, times, …). */
    private readonly progressRecord: (counts: ImportCounts) => ImportRecord,
  ) {}

  async addUser(user: UserUpsert): Promise<void> {
    this.throwFailure();
    this.counts.rowsRead += 1;
    this.users.push(user);
    if (this.users.length >= IMPORT_BATCH_ROWS) await this.startBatch();
  }

  async addProblem(rowNumber: number, reason: string): Promise<void> {
    this.throwFailure();
    this.counts.rowsRead += 1;
    this.counts.rowsFailed += 1;
    if (this.storedErrors < MAX_STORED_ROW_ERRORS) {
      this.storedErrors += 1;
      this.errors.push({ rowNumber, reason });
      if (this.errors.length >= IMPORT_BATCH_ROWS) await this.startBatch();
    }
  }

  /** Writes what is left and waits for every write; throws the first store failure. */
  async drain(): Promise<void> {
    if (this.failure === undefined) await this.startBatch();
    await Promise.all(this.inFlight);
    await this.progressSave;
    this.throwFailure();
  }

  /** Waits for the writes in flight without starting more (the import failed elsewhere). */
  async abandon(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.progressSave;
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  private async startBatch(): Promise<void> {
    this.throwFailure();
    const users = this.users;
    const errors = this.errors;
    this.users = [];
    this.errors = [];
    if (users.length === 0 && errors.length === 0) return;
    const write = this.write(users, errors);
    this.inFlight.push(write);
    void write.finally(() => this.inFlight.splice(this.inFlight.indexOf(write), 1));
    // Backpressure: wait for the oldest write while too many are out.
    while (this.inFlight.length >= IMPORT_WRITES_IN_FLIGHT) await this.inFlight[0];
    this.throwFailure();
  }

  /** One batch; never rejects (a failure is kept for the reader's side to throw). */
  private async write(users: readonly UserUpsert[], errors: readonly ImportRowError[]): Promise<void> {
    try {
      await Promise.all([
        users.length > 0 ? this.store.upsertUsers(this.tenant, users, this.importId) : undefined,
        errors.length > 0 ? this.store.recordImportErrors(this.tenant, this.importId, errors) : undefined,
      ]);
      this.counts.rowsImported += users.length;
      this.maybeSaveProgress();
    } catch (error) {
      this.failure ??= { error };
    }
  }

  private maybeSaveProgress(): void {
    const now = Date.now();
    if (now - this.lastProgressMs < PROGRESS_INTERVAL_MS || this.failure !== undefined) return;
    this.lastProgressMs = now;
    // Chained, so saves land in order; a failed progress save fails the import like a write.
    this.progressSave = this.progressSave.then(async () => {
      try {
        await this.store.saveImport(this.tenant, this.progressRecord({ ...this.counts }));
      } catch (error) {
        this.failure ??= { error };
      }
    });
  }
}
