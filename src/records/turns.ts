/**
 * Bulk work — an import's batches of 500 rows — runs in the event loop that
 * answers requests. A loop over hundreds of rows with no I/O in it holds every
 * request that arrives meanwhile (a single dose, a NIK search) until it ends:
 * tens of milliseconds per batch, each batch several such loops. Such loops
 * give the event loop a turn every ROWS_PER_TURN rows: `setImmediate` runs
 * after the I/O callbacks waiting, so a request's next step goes between two
 * slices of a batch instead of after the whole of it.
 */
export const ROWS_PER_TURN = 50;

/** Resolves on the event loop's next turn, after the I/O callbacks that wait. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Counts rows; `due()` is true every ROWS_PER_TURN-th row (then `await nextTurn()`). */
export class Turns {
  private n = 0;
  due(): boolean {
    return ++this.n % ROWS_PER_TURN === 0;
  }
}
