-- Issue 10: a provider may set volume tiers, lower prices per seat for seat packs of at
-- least min_seats seats: [{"min_seats": 10, "unit_amount_minor": 4000}, ...], checked by
-- services/common/volume_tiers.py (ascending seats, descending prices, below the price).
ALTER TABLE programs ADD COLUMN volume_tiers jsonb NOT NULL DEFAULT '[]';
