-- A consumed event's one-statement effect (services/common/consumer.py, OneStatement) runs
-- with its inbox row in one implicit transaction. When the effect must write and wrote
-- nothing on a first delivery (an unknown id), the statement calls this to fail, so its
-- implicit transaction rolls back the inbox row with it, as a raising handler's does.
-- VOLATILE, so the planner never evaluates it ahead of the CASE that guards it.
CREATE OR REPLACE FUNCTION consumed_effect_missing() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'the consumed event''s effect wrote nothing' USING ERRCODE = 'UXE01';
END;
$$;
