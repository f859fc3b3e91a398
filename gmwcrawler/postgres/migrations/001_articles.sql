-- gmwcrawler: one row per article, upserted on article_id.
CREATE TABLE IF NOT EXISTS gmw_articles (
    article_id   text PRIMARY KEY,
    url          text        NOT NULL,
    alt_urls     text[]      NOT NULL DEFAULT '{}',
    title        text        NOT NULL,
    publish_time timestamptz NOT NULL,
    source       text,
    editor       text,
    reporters    text[]      NOT NULL DEFAULT '{}',
    channel      text[]      NOT NULL DEFAULT '{}',
    keywords     text[]      NOT NULL DEFAULT '{}',
    content      text        NOT NULL,
    content_html text,
    images       jsonb       NOT NULL DEFAULT '[]',
    videos       jsonb       NOT NULL DEFAULT '[]',
    related      jsonb       NOT NULL DEFAULT '[]',
    page_count   integer     NOT NULL DEFAULT 1,
    content_hash text        NOT NULL,
    crawled_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS gmw_articles_publish_time ON gmw_articles (publish_time DESC);
