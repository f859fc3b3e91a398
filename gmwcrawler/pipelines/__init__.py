"""Item pipelines, in order (settings.ITEM_PIPELINES): validate, clean, de-duplicate, store."""
