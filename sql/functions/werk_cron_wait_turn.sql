-- werk_cron_wait_turn is where a tick statement sent ahead of its instant waits for it
-- (see EnqueueUsualTicks): until the instant, by the database's clock (at most a
-- second: a statement is never sent earlier than that), and then, when it has a lane,
-- for its turn in that lane. A large fan-out decided ahead sends all its statements at
-- once, each on a connection of its own, so that every one has taken in its arrays,
-- been planned and read what it looks up by the instant; the lanes (as many as the
-- ticker's --parallel) keep to that many writing at once, one statement per lane. A
-- turn is the lane's transaction-level advisory lock, which its statement holds until
-- it commits or rolls back; the statements of a lane queue for it, and the next one
-- takes it as the last commits. The session's lock_timeout (the ticker's is short: no
-- row or key another session holds may stall a tick) is lifted for that wait alone, to
-- until_turn, and put back. A statement still without its turn then goes ahead without
-- it: one that holds a lane that long is stuck on something else, and the lane does not
-- wait for it. Returns the clock read once the wait is over. ticks (the statement's
-- count of what it read) is taken only so that the wait cannot come before that reading.
CREATE OR REPLACE FUNCTION werk_cron_wait_turn(ticks bigint, until timestamptz, lane integer, until_turn timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    timeout text;
BEGIN
    IF ticks >= 0 THEN
        PERFORM pg_catalog.pg_sleep_until(least(until, pg_catalog.clock_timestamp() + interval '1 second'));
    END IF;
    IF lane > 0 AND NOT pg_catalog.pg_try_advisory_xact_lock(werk_cron_lane_class(), lane) THEN
        timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout',
                greatest(1, pg_catalog.ceil(1000 * extract(epoch FROM until_turn - pg_catalog.clock_timestamp())))::bigint::text,
                true);
            PERFORM pg_catalog.pg_advisory_xact_lock(werk_cron_lane_class(), lane);
        EXCEPTION WHEN lock_not_available THEN
            NULL; -- past until_turn: go ahead without the turn
        END;
        PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
    END IF;
    RETURN pg_catalog.clock_timestamp();
END
$$;
