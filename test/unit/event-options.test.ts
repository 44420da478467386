/** The `events` DAG option: what a DAG file may write, what is stored, and how a mistake is named. */
import { describe, expect, it } from 'vitest';
import { dag, DagDefinitionError } from '../../src/index.js';
import { describeEvents } from '../../src/dag/events.js';

const build = (events: unknown) =>
  dag({ id: 'orders', schedule: null, events: events as never }, (t) => void t.task('a', async () => 1));

function definitionError(events: unknown): DagDefinitionError {
  try {
    build(events);
  } catch (error) {
    expect(error).toBeInstanceOf(DagDefinitionError);
    return error as DagDefinitionError;
  }
  throw new Error('expected a DagDefinitionError');
}

describe('events option', () => {
  it('stores a NOTIFY source with its defaults, and names it for the UI and the CLI', () => {
    const stored = build({ conn: 'App_DB', notify: { channel: 'new_orders', dedupeKey: 'order_id' } }).serialize()
      .events!;
    expect(stored).toEqual({
      conn: 'app_db',
      source: { kind: 'notify', channel: 'new_orders', dedupeKey: 'order_id' },
      debounceMs: null,
      maxWaitMs: null,
      maxBatch: null,
    });
    expect(describeEvents(stored)).toBe('on NOTIFY app_db/new_orders (dedupe by order_id)');
  });

  it('stores table sources: the queue form by default, a watermark with its column; debounce implies batches of 100 and a maximum wait of 5 debounces', () => {
    const queue = build({ conn: 'app_db', table: { name: 'public.orders' }, debounce: '5s' }).serialize().events!;
    expect(queue).toEqual({
      conn: 'app_db',
      source: { kind: 'queue', table: 'public.orders', queueTable: 'updraft_event_queue', pollMs: 5000 },
      debounceMs: 5000,
      maxWaitMs: 25_000,
      maxBatch: 100,
    });
    expect(describeEvents(queue)).toBe('on new rows in app_db public.orders (queue), debounced 5s (at most 25s)');
    expect(
      build({ conn: 'app_db', table: { name: 'public.orders' }, debounce: '1s', maxWait: '3s' }).serialize().events!
        .maxWaitMs,
    ).toBe(3000);
    const mark = build({
      conn: 'app_db',
      table: { name: 'orders', mode: 'watermark', column: 'id', poll: '1s' },
      maxBatch: 50,
    }).serialize().events!;
    expect(mark.source).toEqual({ kind: 'watermark', table: 'orders', column: 'id', pollMs: 1000 });
    expect(describeEvents(mark)).toBe('on new rows in app_db orders (watermark on id), batches of 50');
  });

  it('leaves the stored form of a DAG without events as it was', () => {
    expect('events' in dag({ id: 'plain' }, (t) => void t.task('a', async () => 1)).serialize()).toBe(false);
  });

  it.each([
    [{ notify: { channel: 'c' } }, 'events.conn', 'events.conn: Invalid input: expected string'],
    [{ conn: 'app_db' }, 'events.notify', 'give exactly one source'],
    [{ conn: 'app_db', notify: { channel: 'c' }, table: { name: 't' } }, 'events.table', 'give exactly one source'],
    [{ conn: 'app_db', notify: { chanel: 'c' } }, 'events.notify.channel', "events.notify: unknown option 'chanel'"],
    [
      { conn: 'app_db', table: { name: 't', mode: 'watermark' } },
      'events.table.column',
      "required with mode 'watermark'",
    ],
    [{ conn: 'app_db', table: { name: 't', column: 'id' } }, 'events.table.column', "only with mode 'watermark'"],
    [{ conn: 'app_db', table: { name: 'a.b.c' } }, 'events.table.name', 'expected table or schema.table'],
    [{ conn: 'app_db', notify: { channel: 'c' }, debounce: 'soon' }, 'events.debounce', 'invalid duration "soon"'],
    [{ conn: 'app_db', notify: { channel: 'c' }, maxBatch: 5 }, 'events.maxBatch', 'set debounce too'],
    [{ conn: 'app_db', table: { name: 't' }, maxBatch: 0 }, 'events.maxBatch', 'events.maxBatch'],
    [
      { conn: 'app_db', table: { name: 't' }, maxWait: '10s' },
      'events.maxWait',
      'events.maxWait: caps how long a debounce waits: set debounce too',
    ],
    [
      { conn: 'app_db', table: { name: 't' }, debounce: '2s', maxWait: '1s' },
      'events.maxWait',
      'events.maxWait: must be at least the debounce (2s)',
    ],
    [
      { conn: 'app_db', table: { name: 't' }, debounce: '2s', maxWait: 'later' },
      'events.maxWait',
      'invalid duration "later"',
    ],
    [{ conn: 'bad-name', notify: { channel: 'c' } }, 'events.conn', 'a letter, then letters'],
  ])('%j: a DagDefinitionError naming the DAG and %s', (events, field, message) => {
    const error = definitionError(events);
    expect(error.field).toBe(field);
    expect(error.message).toContain("DAG 'orders'");
    expect(error.message).toContain(message);
  });
});
