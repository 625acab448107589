-- Schedules as code (scheduler.Apply, `werkcron apply` and `werkcron export`): a set of
-- schedules compared with the table in one statement, and written through
-- werk_cron_schedule and werk_cron_unschedule in one statement each, however many there
-- are.
--
-- entries is a JSON array of objects keyed by werk_cron_schedule's argument names
-- (name, func, schedule, queue, args, ..., labels), holding only what is given.

-- name: ApplyLockOwner :exec
-- Applies of one owner take turns: each holds this until its transaction ends.
SELECT pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('werkcron-apply:' || werk_cron_schema() || ':' || @owner::text, 0));

-- name: ApplyLockClaims :exec
-- Applies that take a name (create a schedule, or adopt one) take turns, whatever their
-- owner, so that two owners cannot both take the same name.
SELECT pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('werkcron-apply:' || werk_cron_schema(), 0));

-- name: ApplyPlan :many
-- For every schedule the entries list or the owner manages: whether it is listed,
-- whether it exists, its owner, and (listed and existing) how it differs from what the
-- entry would make of it: {"column": [old, new], ...}, empty when nothing does. An
-- entry's definition is what werk_cron_schedule writes: the columns given
-- (werk_cron_definition), the table's defaults for the rest; paused only when given,
-- and remaining_runs, state the ticker counts down, never. The tick's own columns are
-- not compared.
-- The CTEs are materialised: the defaults are evaluated once, not per entry, and each
-- row's to_jsonb once, not per column compared.
WITH d AS MATERIALIZED (
    SELECT werk_cron_definition_defaults() AS defaults
), want AS MATERIALIZED (
    SELECT w.x->>'name' AS name,
           d.defaults || werk_cron_definition('werkcron apply', w.x->>'name', w.x->>'func', w.x->>'schedule',
               w.x->>'queue', w.x->'args', w.x->'kwargs', w.x->>'timezone',
               (w.x->>'timeout_secs')::integer, (w.x->>'result_ttl')::integer, (w.x->>'failure_ttl')::integer,
               w.x->'meta', (w.x->>'priority')::integer, (w.x->>'max_attempts')::integer,
               (w.x->>'paused')::boolean, w.x->>'catchup', (w.x->>'catchup_window_secs')::integer,
               w.x->>'overlap', (w.x->>'starts_at')::timestamptz, (w.x->>'ends_at')::timestamptz,
               (w.x->>'jitter_secs')::integer, NULL::integer, (w.x->>'pause_after_failures')::integer,
               (w.x->>'start_deadline_secs')::integer, (w.x->>'max_runtime_secs')::integer, w.x->>'exclude_calendar')
           || CASE WHEN w.x ? 'labels' THEN pg_catalog.jsonb_build_object('labels', w.x->'labels') ELSE '{}' END AS def,
           w.x ? 'paused' AS paused_given
    FROM d, pg_catalog.jsonb_array_elements(@entries::jsonb) AS w(x)
), cur AS MATERIALIZED (
    SELECT c.name, c.managed_by, pg_catalog.to_jsonb(c) AS def
    FROM werk_cron_jobs c
    WHERE c.name IN (SELECT want.name FROM want) OR c.managed_by = @owner::text
)
SELECT coalesce(want.name, cur.name)::text AS name,
       (want.name IS NOT NULL)::boolean AS listed,
       (cur.name IS NOT NULL)::boolean AS found,
       cur.managed_by,
       (SELECT coalesce(pg_catalog.jsonb_object_agg(k, pg_catalog.jsonb_build_array(cur.def->k, want.def->k)), '{}')
        FROM pg_catalog.unnest(werk_cron_definition_columns() || ARRAY['paused']) AS k
        WHERE want.def ? k AND (k <> 'paused' OR want.paused_given)
          AND cur.def->k IS DISTINCT FROM want.def->k)::jsonb AS changes
FROM want FULL JOIN cur ON cur.name = want.name
ORDER BY 1;

-- name: ApplyUpsert :many
-- Creates or replaces the schedules of entries (werk_cron_schedule, keep_state off: an
-- entry gives paused and remaining_runs only where they are to be written), for owner.
SELECT s.name, s.updated_at
FROM pg_catalog.jsonb_array_elements(@entries::jsonb) AS w(x)
CROSS JOIN LATERAL werk_cron_schedule(
    name => w.x->>'name', func => w.x->>'func', schedule => w.x->>'schedule',
    queue => w.x->>'queue', args => w.x->'args', kwargs => w.x->'kwargs', timezone => w.x->>'timezone',
    timeout_secs => (w.x->>'timeout_secs')::integer, result_ttl => (w.x->>'result_ttl')::integer,
    failure_ttl => (w.x->>'failure_ttl')::integer, meta => w.x->'meta',
    priority => (w.x->>'priority')::integer, max_attempts => (w.x->>'max_attempts')::integer,
    paused => (w.x->>'paused')::boolean, catchup => w.x->>'catchup',
    catchup_window_secs => (w.x->>'catchup_window_secs')::integer, overlap => w.x->>'overlap',
    starts_at => (w.x->>'starts_at')::timestamptz, ends_at => (w.x->>'ends_at')::timestamptz,
    jitter_secs => (w.x->>'jitter_secs')::integer, remaining_runs => (w.x->>'remaining_runs')::integer,
    pause_after_failures => (w.x->>'pause_after_failures')::integer,
    start_deadline_secs => (w.x->>'start_deadline_secs')::integer,
    max_runtime_secs => (w.x->>'max_runtime_secs')::integer, exclude_calendar => w.x->>'exclude_calendar',
    keep_state => false, labels => w.x->'labels', managed_by => @owner::text) AS s;

-- name: ApplyUnschedule :execrows
-- Deletes the schedules named (werk_cron_unschedule).
SELECT werk_cron_unschedule(n) FROM pg_catalog.unnest(@names::text[]) AS n;

-- name: ExportSchedules :many
-- Schedules as a file lists them: each row, and which of its definition columns are at
-- the table's default (werk_cron_definition_defaults), for a file to leave out. Those
-- owner manages ('' for any), of names (empty for all), by name.
SELECT sqlc.embed(j),
       (SELECT coalesce(pg_catalog.array_agg(k), '{}')
        FROM pg_catalog.unnest(werk_cron_definition_columns()) AS k
        WHERE pg_catalog.to_jsonb(j)->k IS NOT DISTINCT FROM d.defaults->k)::text[] AS at_default
FROM werk_cron_jobs j, (SELECT werk_cron_definition_defaults() AS defaults OFFSET 0) d -- once, not per row
WHERE (@owner::text = '' OR j.managed_by = @owner::text)
  AND (coalesce(pg_catalog.cardinality(@names::text[]), 0) = 0 OR j.name = ANY (@names::text[]))
ORDER BY j.name;
