-- Where an address is, for shipping fees: CN (mainland China), HK, MO, TW,
-- or another ISO 3166-1 alpha-2 country code.
ALTER TABLE addresses ADD COLUMN region TEXT NOT NULL DEFAULT 'CN';
