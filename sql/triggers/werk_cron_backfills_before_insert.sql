-- See werk_cron_backfills_before_insert.
CREATE OR REPLACE TRIGGER werk_cron_backfills_before_insert
    BEFORE INSERT ON werk_cron_backfills
    FOR EACH ROW EXECUTE PROCEDURE werk_cron_backfills_before_insert();
