-- gmwcrawler: the writer's credit, apart from the editor.
ALTER TABLE gmw_articles ADD COLUMN IF NOT EXISTS author text;
