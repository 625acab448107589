-- See werk_cron_calendars_changed.
CREATE OR REPLACE TRIGGER werk_cron_calendars_after_delete
    AFTER DELETE ON werk_cron_calendars
    REFERENCING OLD TABLE AS werk_cron_calendars_deleted
    FOR EACH STATEMENT EXECUTE PROCEDURE werk_cron_calendars_changed();
