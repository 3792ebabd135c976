-- A NOTIFY costs every committing transaction in the cluster: the notifying one takes the
-- one notify-queue lock at commit and holds it until its commit is flushed. A service's own
-- pool therefore sets upskill.wakes_in_process on its sessions and wakes its own worker
-- after the commit (services/common/wakeup.py); every other session still notifies.
CREATE OR REPLACE FUNCTION notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('upskill.wakes_in_process', true), '') <> 'on' THEN
        PERFORM pg_notify(TG_ARGV[0], '');
    END IF;
    RETURN NULL;
END;
$$;
