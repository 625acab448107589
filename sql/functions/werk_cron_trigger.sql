-- werk_cron_trigger enqueues one job of a schedule now, outside its schedule, and
-- returns the job's id. The key, cron:<name>:manual:<job id>, can never collide with a
-- tick's (cron:<name>:<YYYY-MM-DDTHH:MM:SSZ>), and nothing of the schedule's own state
-- (last_tick_at, next_run_at) changes: the next tick comes as planned. It runs for a
-- paused schedule too (asking for it is explicit), and ignores overlap = 'skip'; the job
-- does count for a later tick's overlap check, and joins the schedule's concurrency
-- group for buffer_one and buffer_all. The run gets a ledger row of its own, outcome
-- 'triggered', at the instant it was triggered, so that its outcome shows in the
-- history; the primary is told (on werkcron's channel) that a run awaits its outcome.
-- With start_deadline_secs the job must start within that many seconds of now (its
-- expires_at); with max_runtime_secs the primary looks at the schedule's health once the
-- run could have reached its limit.
--
-- It runs as werkcron's owner, so that the ledger row is werkcron's to write (no
-- application needs INSERT on the ledger, where it could forge outcomes), and only for
-- a caller who may insert into werk_jobs anyway: it enqueues any schedule's function,
-- which the ticker's allow-list does not see, so it must give no role a way to enqueue
-- that the role lacks. EXECUTE: the owner, and roles granted it (werk_cron_grant_app).
CREATE OR REPLACE FUNCTION werk_cron_trigger(name text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    s    werk_cron_jobs;
    v_id uuid := pg_catalog.gen_random_uuid();
    v_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF NOT pg_catalog.has_table_privilege(session_user, 'werk_jobs', 'INSERT') THEN
        RAISE EXCEPTION 'werk_cron_trigger: % may not insert into werk_jobs, so it may not enqueue a run either', session_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'grant it what an application needs: werkcron grant --app ROLE';
    END IF;
    SELECT * INTO s FROM werk_cron_jobs j WHERE j.name = werk_cron_trigger.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_trigger %: no such schedule', werk_cron_cut(werk_cron_trigger.name, 200)
            USING ERRCODE = 'no_data_found';
    END IF;
    -- The schedule's job as for a tick (werk_cron_job), due at once (at the start of
    -- the transaction that asks for it; its ledger row has the instant it was asked
    -- for, which two runs asked for in one transaction do not share): in the
    -- schedule's concurrency group too, for overlap buffer_one and buffer_all, so that a
    -- manual run waits for the running one.
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, expires_at, meta, result_ttl, failure_ttl, cron_name,
                           enqueued_at)
    SELECT w.*, v_at
    FROM werk_cron_job(v_id, 'cron:' || s.name || ':manual:' || v_id::text, pg_catalog.now(), v_at,
                       s.name, s.func, s.queue, s.args, s.kwargs, s.priority, s.max_attempts, s.timeout_secs,
                       s.meta, s.result_ttl, s.failure_ttl, s.overlap, s.start_deadline_secs) w;
    INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, decided_at)
    VALUES (s.name, v_at, 'triggered', v_id, v_at)
    ON CONFLICT DO NOTHING;
    IF s.max_runtime_secs IS NOT NULL THEN
        -- The run may outlast its limit: the primary looks at the schedule's health by then.
        UPDATE werk_cron_state st
        SET health_check_at = least(coalesce(st.health_check_at, 'infinity'::timestamptz),
                                    v_at + s.max_runtime_secs * interval '1 second')
        WHERE st.name = s.name;
    END IF;
    PERFORM pg_catalog.pg_notify('werk:' || s.queue, '');
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    PERFORM werk_cron_trusted_triggers(); -- what it wrote ran no other role's code
    RETURN v_id;
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_trigger(text) FROM PUBLIC;
