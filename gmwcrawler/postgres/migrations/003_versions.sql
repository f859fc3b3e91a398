-- gmwcrawler: every version of an article. gmw_articles holds the newest; a refresh that
-- changed one of identity.REVISION_FIELDS adds a row here, an unchanged one writes nothing.
ALTER TABLE gmw_articles ADD COLUMN IF NOT EXISTS revision text;
CREATE TABLE IF NOT EXISTS gmw_article_versions (
    article_id     text        NOT NULL REFERENCES gmw_articles (article_id) ON DELETE CASCADE,
    version        integer     NOT NULL,
    fetched_at     timestamptz NOT NULL,
    title          text        NOT NULL,
    content        text        NOT NULL,
    content_hash   text        NOT NULL,
    changed_fields text[]      NOT NULL DEFAULT '{}',
    fields         jsonb       NOT NULL DEFAULT '{}',  -- the other revision fields: source, editor, images…
    PRIMARY KEY (article_id, version)
);
-- articles stored before this migration: what they hold now is their newest version
INSERT INTO gmw_article_versions (article_id, version, fetched_at, title, content, content_hash)
SELECT article_id, version, crawled_at, title, content, content_hash FROM gmw_articles
ON CONFLICT DO NOTHING;
