"""STAGE 6: the Whoosh full-text index, derived from the store."""
