"""Item pipelines, in order (settings.ITEM_PIPELINES): clean, validate, de-duplicate, store."""
