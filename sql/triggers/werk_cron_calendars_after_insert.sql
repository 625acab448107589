-- See werk_cron_calendars_changed.
CREATE OR REPLACE TRIGGER werk_cron_calendars_after_insert
    AFTER INSERT ON werk_cron_calendars
    REFERENCING NEW TABLE AS werk_cron_calendars_inserted
    FOR EACH STATEMENT EXECUTE PROCEDURE werk_cron_calendars_changed();
