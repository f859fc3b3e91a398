"""One identity for an article everywhere: PostgreSQL is keyed on the seen-store's identity key.

Before, gmw_articles was keyed on article_id, the number in content_<id>.htm. m.gmw.cn numbers its
articles itself (docs/evidence.md; gmwcrawler.incremental.identity), so a mobile article whose number equals
a politics.gmw.cn article's overwrote that row, while the seen-store (keyed on identity_key) kept both.
The key is computed by Python's identity_key() from each row's URL: no SQL copy of that rule exists to
drift from it. Rows that had already collided were one row; they stay one row, under their URL's key.
"""

from __future__ import annotations

from typing import Any

from gmwcrawler.incremental.identity import identity_key

AFTER_BACKFILL = """
ALTER TABLE gmw_articles ALTER COLUMN identity_key SET NOT NULL;
ALTER TABLE gmw_article_versions ADD COLUMN IF NOT EXISTS identity_key text;
UPDATE gmw_article_versions v SET identity_key = a.identity_key FROM gmw_articles a
 WHERE v.article_id = a.article_id AND v.identity_key IS NULL;
ALTER TABLE gmw_article_versions ALTER COLUMN identity_key SET NOT NULL;
ALTER TABLE gmw_article_versions DROP CONSTRAINT IF EXISTS gmw_article_versions_article_id_fkey;
ALTER TABLE gmw_article_versions DROP CONSTRAINT IF EXISTS gmw_article_versions_pkey;
ALTER TABLE gmw_articles DROP CONSTRAINT IF EXISTS gmw_articles_pkey;
ALTER TABLE gmw_articles ADD CONSTRAINT gmw_articles_pkey PRIMARY KEY (identity_key);
CREATE INDEX IF NOT EXISTS gmw_articles_article_id ON gmw_articles (article_id);
ALTER TABLE gmw_article_versions ADD CONSTRAINT gmw_article_versions_pkey PRIMARY KEY (identity_key, version);
ALTER TABLE gmw_article_versions ADD CONSTRAINT gmw_article_versions_identity_key_fkey
  FOREIGN KEY (identity_key) REFERENCES gmw_articles (identity_key) ON DELETE CASCADE;
CREATE INDEX IF NOT EXISTS gmw_article_versions_article_id ON gmw_article_versions (article_id);
"""


def migrate(conn: Any) -> None:
    conn.execute("ALTER TABLE gmw_articles ADD COLUMN IF NOT EXISTS identity_key text")
    rows = conn.execute("SELECT article_id, url FROM gmw_articles WHERE identity_key IS NULL").fetchall()
    with conn.cursor() as cur:
        cur.executemany("UPDATE gmw_articles SET identity_key = %s WHERE article_id = %s",
                        [(identity_key(url), article_id) for article_id, url in rows])
    conn.execute(AFTER_BACKFILL)
