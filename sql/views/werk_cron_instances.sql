-- Every running ticker of this schema: primary first, then the standbys, and any
-- session holding the leader lock that is not a ticker (see werk_cron_list_instances).
CREATE OR REPLACE VIEW werk_cron_instances AS
SELECT * FROM werk_cron_list_instances() ORDER BY 2, 3;
