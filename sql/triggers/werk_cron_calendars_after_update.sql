-- See werk_cron_calendars_changed.
CREATE OR REPLACE TRIGGER werk_cron_calendars_after_update
    AFTER UPDATE ON werk_cron_calendars
    REFERENCING OLD TABLE AS werk_cron_calendars_old NEW TABLE AS werk_cron_calendars_new
    FOR EACH STATEMENT EXECUTE PROCEDURE werk_cron_calendars_changed();
