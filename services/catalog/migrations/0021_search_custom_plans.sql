-- asyncpg prepares every statement, and after five runs PostgreSQL may switch a prepared
-- statement to a generic plan, made without the parameter values. For the catalog search
-- that plan is the same for a word in a quarter of the catalog and a word in one program:
-- measured at 100,000 programs, a word and a skill took 1-5 ms with plans made for the
-- values and 40-65 ms once the generic plan took over. The catalog's statements are few
-- and cheap to plan, so its sessions always plan for the values.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan',
                   current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not the owner of the database: plan_cache_mode stays as configured';
END
$$;
-- The sessions already open (this one is the pool's first) take it now.
SET plan_cache_mode = force_custom_plan;
