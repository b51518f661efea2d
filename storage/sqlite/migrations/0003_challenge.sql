-- The security questions drawn for a user's unlock attempt, kept until the
-- attempt is answered, so that going back, pulling the card or another
-- kiosk cannot draw easier ones. Comma-separated question IDs; '' = none.
ALTER TABLE registrations ADD COLUMN challenge TEXT NOT NULL DEFAULT '';
