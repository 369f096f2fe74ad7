// Pre-fills a backlog of pending deliveries straight into the store's tables: accepting a million
// messages through the API would take longer than the rest of the run. One message is accepted
// through the API first; this copies its `messages` row and its `deliveries` row, column for column,
// under fresh time-sorted ids (so the copies are due in id order, as accepted messages are). Copying
// whole rows keeps it independent of the columns a migration adds. Run while no Tapwire process
// has the database open.
import Database from 'better-sqlite3';
import { newId } from '../src/domain/ids.js';
import { withPostgres, type Database as BenchDatabase } from './tapwire.js';

type Row = Record<string, unknown>;

const BATCH = 20_000;

/** Copies of the one message in the database (and its one delivery) until `total` are pending. */
export async function fillBacklog(database: BenchDatabase, total: number): Promise<void> {
  if (database.backend === 'sqlite') fillSqlite(database.url, total);
  else await fillPostgres(database.url, total);
}

function clones(template: { message: Row; delivery: Row }, count: number): { messages: Row[]; deliveries: Row[] } {
  const messages: Row[] = [];
  const deliveries: Row[] = [];
  for (let i = 0; i < count; i++) {
    const msgId = newId('msg');
    messages.push({ ...template.message, id: msgId });
    deliveries.push({ ...template.delivery, id: newId('msgep'), msg_id: msgId });
  }
  return { messages, deliveries };
}

function fillSqlite(file: string, total: number): void {
  const db = new Database(file);
  try {
    // This connection only: the copies are test data, not worth an fsync per batch.
    db.pragma('synchronous = OFF');
    const message = db.prepare('SELECT * FROM messages').all() as Row[];
    const delivery = db.prepare('SELECT * FROM deliveries').all() as Row[];
    if (message.length !== 1 || delivery.length !== 1) throw new Error(`expected one message and one delivery to copy, found ${message.length} and ${delivery.length}`);
    const template = { message: message[0]!, delivery: delivery[0]! };
    const insertInto = (table: string, row: Row) => {
      const columns = Object.keys(row);
      return db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
    };
    const insertMessage = insertInto('messages', template.message);
    const insertDelivery = insertInto('deliveries', template.delivery);
    const insertBatch = db.transaction((rows: { messages: Row[]; deliveries: Row[] }) => {
      for (const row of rows.messages) insertMessage.run(row);
      for (const row of rows.deliveries) insertDelivery.run(row);
    });
    for (let done = 1; done < total; ) {
      const count = Math.min(BATCH, total - done);
      insertBatch(clones(template, count));
      done += count;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

async function fillPostgres(url: string, total: number): Promise<void> {
  await withPostgres(url, async (client) => {
    const message = (await client.query<Row>('SELECT * FROM messages')).rows;
    const delivery = (await client.query<Row>('SELECT * FROM deliveries')).rows;
    if (message.length !== 1 || delivery.length !== 1) throw new Error(`expected one message and one delivery to copy, found ${message.length} and ${delivery.length}`);
    const template = { message: message[0]!, delivery: delivery[0]! };
    for (let done = 1; done < total; ) {
      const count = Math.min(BATCH, total - done);
      const rows = clones(template, count);
      // json_populate_recordset turns each JSON object into a row of the table's own type.
      await client.query('INSERT INTO messages SELECT * FROM json_populate_recordset(NULL::messages, $1::json)', [JSON.stringify(rows.messages)]);
      await client.query('INSERT INTO deliveries SELECT * FROM json_populate_recordset(NULL::deliveries, $1::json)', [JSON.stringify(rows.deliveries)]);
      done += count;
    }
    // A queue that grew to this size in production would have had its statistics refreshed.
    await client.query('ANALYZE messages');
    await client.query('ANALYZE deliveries');
  });
}
