-- Issue 10: a seat pack's payment names the employer and the seats (invoices and receipts
-- show them): {"employer_id", "employer_name", "seats", "price_per_seat_minor"}; NULL for
-- a single purchase. Its amount is always seats times price_per_seat_minor.
ALTER TABLE payments ADD COLUMN seat_pack jsonb;
