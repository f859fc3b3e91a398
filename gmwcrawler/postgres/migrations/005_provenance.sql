-- gmwcrawler: which route read each field, and the fields no template found (docs/design.md, "When gmw.cn redesigns its pages").
-- A row whose generic_fields is not empty was read while the site's markup matched no template:
-- stored so that nothing is lost, and marked so that a consumer can leave it out until it is read again.
ALTER TABLE gmw_articles ADD COLUMN IF NOT EXISTS provenance jsonb NOT NULL DEFAULT '{}';
ALTER TABLE gmw_articles ADD COLUMN IF NOT EXISTS generic_fields text[] NOT NULL DEFAULT '{}';
