/**
 * The shop's order events for the orders_pipeline example (and its test): some days of
 * orders up to now, generated inside PostgreSQL, deterministic (setseed), with the
 * dirt real feeds have: stray whitespace and mixed case, placeholder countries,
 * amounts that are not numbers or are negative, impossible dates, unknown statuses,
 * missing emails, and a second event for about one order in eight.
 */
import type pg from 'pg';

/** `orders` orders spread over the `days` days up to now; returns the number of events written. */
export async function createOrderEvents(shop: pg.Client, orders: number, days = 7): Promise<number> {
  await shop.query(`create table public.order_events (
    event_id bigserial primary key,
    order_id bigint,
    customer_email text,
    country text,
    amount text,
    ordered_at text,
    status text,
    updated_at timestamptz not null)`);
  await shop.query('select setseed(0.42)');
  const { rowCount } = await shop.query(
    `with orders as (
         select g as order_id,
                now() - random() * make_interval(days => $2::int) as ordered_at,
                random() as r1, random() as r2, random() as r3, random() as r4, random() as r5
           from generate_series(1, $1::int) g
       ), events as (
         select order_id, ordered_at, r1, r2, r3, r4, r5, ordered_at + interval '1 minute' as updated_at, false as changed from orders
         union all
         select order_id, ordered_at, r1, r2, r3, r4, 0.5, ordered_at + interval '2 hours', true from orders where r5 < 0.125
       )
       insert into public.order_events (order_id, customer_email, country, amount, ordered_at, status, updated_at)
       select order_id,
              case when r1 < 0.04 then '  ' || upper('Customer' || (order_id % 900) || '@Example.com') || ' '
                   when r1 < 0.06 then 'customer' || (order_id % 900) || ' at example dot com'
                   when r1 < 0.07 then null
                   else 'customer' || (order_id % 900) || '@example.com' end,
              (array['DE', 'de', ' FR', 'US', 'us ', 'GB', '', 'N/A', 'ES', 'IT'])[1 + floor(r2 * 10)::int],
              case when r3 < 0.02 then 'n/a' when r3 < 0.03 then '-' || round((r3 * 1000)::numeric, 2) else round((5 + r3 * 195)::numeric, 2)::text end,
              case when r4 < 0.01 then '2026-13-45 25:61' else to_char(ordered_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') end,
              case when changed then 'refunded'
                   else (array['paid', 'paid', 'PAID ', 'paid', 'pending', 'Paid', 'paid', 'unknown'])[1 + floor(r4 * 8)::int] end,
              updated_at
         from events`,
    [orders, days],
  );
  return rowCount ?? 0;
}
