// Batching for PostgreSQL's hot writes (accepting messages, recording attempts): the calls made in one
// turn of the event loop go to the database together, one statement and one commit for all of them,
// since each commit waits for the disk and a round trip costs more than the rows it carries.

/** Items added in one turn of the event loop, handed to `flush` together at its end. */
export class TurnBatch<T> {
  private items: T[] = [];

  constructor(private readonly flush: (items: T[]) => Promise<void>) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) {
      setImmediate(() => {
        const batch = this.items;
        this.items = [];
        void this.flush(batch);
      });
    }
  }
}
