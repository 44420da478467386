/**
 * Datasets in a DAG file (docs/datasets.md): task outlets and a schedule on datasets are
 * validated when the file is parsed, with errors naming the DAG, the task and the field,
 * and stored only where used (other DAGs' stored form, and so their version hash, is unchanged).
 */
import { describe, expect, it } from 'vitest';
import { dag } from '../../src/index.js';
import { definitionError } from '../support/definition-error.js';

const noop = async () => null;

describe('task outlets', () => {
  it('are stored with the task, and absent from tasks without them', () => {
    const d = dag({ id: 'p' }, (t) => {
      t.task('a', { outlets: ['warehouse://public.sales', 's3://bucket/key'] }, noop);
      t.task('b', noop);
      t.sql('c', { conn: 'w', sql: 'select 1', outlets: ['warehouse://public.c'] });
    });
    const s = d.serialize();
    expect(s.tasks.find((t) => t.id === 'a')!.outlets).toEqual(['warehouse://public.sales', 's3://bucket/key']);
    expect(s.tasks.find((t) => t.id === 'b')).not.toHaveProperty('outlets');
    expect(s.tasks.find((t) => t.id === 'c')!.outlets).toEqual(['warehouse://public.c']);
    expect(s).not.toHaveProperty('datasetSchedule');
  });

  it.each([
    [[''], "DAG 'p': task 'a': outlets[0]: must not be empty"],
    [['a b'], 'outlets[0]: "a b" contains whitespace'],
    [['x://1', 'x://1'], "outlets[1]: duplicate dataset 'x://1'"],
    [[`x://${'y'.repeat(1000)}`], 'outlets[0]: is 1004 characters long, at most 1000 allowed'],
    [[3], 'outlets[0]: expected a string, got number'],
    ['x://1', 'outlets: expected a list of dataset URIs, got string'],
  ])('rejects %j naming the DAG, the task and the field', (outlets, message) => {
    const error = definitionError(() =>
      dag({ id: 'p' }, (t) => void t.task('a', { outlets: outlets as string[] }, noop)),
    );
    expect(error.message).toContain("DAG 'p': task 'a'");
    expect(error.message).toContain(message);
    expect(error.field).toBe('outlets');
  });

  it('are not allowed in defaults (as in Airflow)', () => {
    const error = definitionError(() =>
      dag({ id: 'p', defaults: { outlets: ['x://1'] } as never }, (t) => void t.task('a', noop)),
    );
    expect(error.message).toContain("unknown option 'outlets'");
  });
});

describe('a schedule on datasets', () => {
  it("defaults to 'all' and needs no startDate", () => {
    const d = dag({ id: 'c', schedule: { datasets: ['x://1', 'x://2'] } }, (t) => void t.task('a', noop));
    expect(d.serialize()).toMatchObject({ schedule: null, datasetSchedule: { uris: ['x://1', 'x://2'], when: 'all' } });
    const any = dag({ id: 'c', schedule: { datasets: ['x://1'], when: 'any' } }, (t) => void t.task('a', noop));
    expect(any.serialize().datasetSchedule).toEqual({ uris: ['x://1'], when: 'any' });
  });

  it('rejects an empty list, bad URIs and an unknown condition, naming the field', () => {
    expect(
      definitionError(() => dag({ id: 'c', schedule: { datasets: [] } }, (t) => void t.task('a', noop))).message,
    ).toContain("DAG 'c': schedule.datasets: list at least one dataset URI");
    const bad = definitionError(() =>
      dag({ id: 'c', schedule: { datasets: ['x://1', ' '] } }, (t) => void t.task('a', noop)),
    );
    expect(bad.message).toContain('schedule.datasets[1]');
    expect(bad.field).toBe('schedule.datasets');
    const when = definitionError(() =>
      dag({ id: 'c', schedule: { datasets: ['x://1'], when: 'some' as never } }, (t) => void t.task('a', noop)),
    );
    expect(when.field).toBe('schedule.when');
  });

  it('refuses a param without a default, which no dataset-triggered run could set', () => {
    const error = definitionError(() =>
      dag(
        { id: 'c', schedule: { datasets: ['x://1'] }, params: { region: { type: 'string' } } },
        (t) => void t.task('a', noop),
      ),
    );
    expect(error.field).toBe('params.region');
    expect(error.message).toContain("DAG 'c': params.region: needs a default");
    expect(() =>
      dag(
        { id: 'c', schedule: { datasets: ['x://1'] }, params: { region: { type: 'string', default: 'eu' } } },
        (t) => void t.task('a', noop),
      ),
    ).not.toThrow();
  });
});
