-- Reading schedules into the ticker and writing back what it computed.

-- name: ListSchedulesForTickerPage :many
-- The schedules after @after in name order, @page_size at a time (keyset pagination): a
-- full load of 100,000 rows in one result would hold every row in memory at once, next
-- to the ticker's entries built from them.
SELECT * FROM werk_cron_jobs
WHERE name > @after::text
ORDER BY name
LIMIT @page_size::int;

-- name: GetSchedulesForTicker :many
SELECT * FROM werk_cron_jobs
WHERE name = ANY(@names::text[]);

-- name: SaveScheduleState :exec
-- next_run_at and last_error for many schedules in one round trip; the year-1
-- sentinel and '' stand for NULL (arrays carry no NULL elements here). Rows whose values
-- are already current are not rewritten.
UPDATE werk_cron_jobs j
SET next_run_at = nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
    last_error = nullif(s.last_error, '')
FROM (SELECT unnest(@names::text[]) AS name,
             unnest(@next_run_ats::timestamptz[]) AS next_run_at,
             unnest(@last_errors::text[]) AS last_error) s
WHERE j.name = s.name
  AND (j.next_run_at IS DISTINCT FROM nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz)
       OR j.last_error IS DISTINCT FROM nullif(s.last_error, ''));

-- name: PruneTicks :execrows
-- Ledger rows older than the retention period. Safe: last_tick_at only moves forward (a
-- trigger keeps it so), so
-- a pruned tick can never be decided again.
DELETE FROM werk_cron_ticks WHERE tick_at < @before::timestamptz;
