-- Health: the primary looks at schedules' health (werk_cron_refresh_health, which writes
-- and announces a change) where the facts it follows change, and at the instants a start
-- deadline or a run-time limit passes (werk_cron_state.health_check_at); and the
-- calendars whose days schedules skip.

-- name: RefreshHealth :many
-- Look at the health of @names, and of @unless_ok where it is not ok now (an ok
-- schedule those facts cannot have made unhealthy: see the planner), and keep each one's
-- health_check_at: when to look again, or one second from now for a schedule whose
-- health row another session held (skipped). A check already set for later, by someone
-- else meanwhile (a manual run), and sooner than the new one, stays: a look too many
-- costs nothing. State rows another session holds keep their check, and are written with
-- a later look. Returns a row per schedule looked at, with the soonest check written
-- (year 1: none).
WITH pick AS (
    SELECT n.name FROM pg_catalog.unnest(@names::text[]) AS n(name)
    UNION
    SELECT n.name FROM pg_catalog.unnest(@unless_ok::text[]) AS n(name)
    JOIN werk_cron_health h ON h.name = n.name
    WHERE h.health <> 'ok'
),
r AS MATERIALIZED (
    SELECT f.name, f.health, f.previous, f.changed, f.skipped,
           CASE WHEN f.skipped THEN now() + interval '1 second' ELSE f.next_check_at END AS next_check_at
    FROM werk_cron_refresh_health(ARRAY(SELECT p.name FROM pick p), false) AS f(name, health, previous, changed, skipped, next_check_at)
),
held AS (
    SELECT s.name FROM werk_cron_state s
    WHERE s.name IN (SELECT r.name FROM r)
    FOR NO KEY UPDATE OF s SKIP LOCKED
),
w AS (
    UPDATE werk_cron_state s
    SET health_check_at = CASE WHEN s.health_check_at > pg_catalog.clock_timestamp()
                                    AND (r.next_check_at IS NULL OR s.health_check_at < r.next_check_at)
                               THEN s.health_check_at ELSE r.next_check_at END
    FROM r
    WHERE s.name = r.name AND s.name IN (SELECT h.name FROM held h)
    RETURNING s.health_check_at
)
SELECT r.name::text AS name, r.health::text AS health, r.previous::text AS previous,
       r.changed::boolean AS changed, r.skipped::boolean AS skipped,
       coalesce((SELECT pg_catalog.min(w.health_check_at) FROM w), '0001-01-01 00:00:00+00')::timestamptz AS soonest_check
FROM r;

-- name: RefreshDueHealth :many
-- Look at the health of the schedules whose health_check_at has come (at most
-- @max_rows, soonest first; rows another session holds are left for the next look), and
-- set their next look (werk_cron_refresh_health's next_check_at; NULL: on events only;
-- one second from now for one whose health row another session held). Returns a row per
-- schedule looked at.
WITH due AS MATERIALIZED (
    SELECT s.name FROM werk_cron_state s
    WHERE s.health_check_at <= now()
    ORDER BY s.health_check_at
    LIMIT @max_rows::integer
    FOR NO KEY UPDATE OF s SKIP LOCKED
),
r AS MATERIALIZED (
    SELECT f.name, f.health, f.previous, f.changed, f.skipped,
           CASE WHEN f.skipped THEN now() + interval '1 second' ELSE f.next_check_at END AS next_check_at
    FROM werk_cron_refresh_health(ARRAY(SELECT d.name FROM due d), false) AS f(name, health, previous, changed, skipped, next_check_at)
),
w AS (
    UPDATE werk_cron_state s
    SET health_check_at = r.next_check_at
    FROM due d
    LEFT JOIN r ON r.name = d.name
    WHERE s.name = d.name
    RETURNING s.name
)
SELECT r.name::text AS name, r.health::text AS health, r.previous::text AS previous,
       r.changed::boolean AS changed, r.skipped::boolean AS skipped,
       (SELECT pg_catalog.count(*) FROM w)::integer AS looked
FROM r;

-- name: NextHealthCheck :many
-- The soonest health_check_at (none: no look is owed), through its index.
SELECT health_check_at::timestamptz AS health_check_at
FROM werk_cron_state
WHERE health_check_at IS NOT NULL
ORDER BY health_check_at
LIMIT 1;

-- name: UnhealthyAfter :many
-- Schedules in error, failing, late or overdue, by name after @after, at most
-- @max_rows: what a new primary looks at again (a hold-up of the last primary's is
-- gone, say), through the index of those alone. (A paused or ended schedule changes
-- only through planning, which looks at it then.)
SELECT name::text AS name
FROM werk_cron_health
WHERE health IN ('error', 'failing', 'late', 'overdue') AND name > @after::text
ORDER BY name
LIMIT @max_rows::integer;

-- name: LoadCalendarDays :many
-- The days of the named calendars from @from_day on (YYYY-MM-DD), at most @max_days
-- of each, in order: what the ticker knows of a calendar (a day before or beyond them is
-- not excluded).
SELECT c.name::text AS calendar, d.day::text AS day
FROM pg_catalog.unnest(@calendars::text[]) AS c(name)
CROSS JOIN LATERAL (SELECT k.day FROM werk_cron_calendars k
                    WHERE k.calendar = c.name AND k.day >= (@from_day::text)::date
                    ORDER BY k.day
                    LIMIT @max_days::integer) d
ORDER BY 1, 2;

-- name: WerkcronSchema :one
-- The schema of this installation, as health notifications name it.
SELECT werk_cron_schema()::text AS schema;
