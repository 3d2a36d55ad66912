"""STAGE 5: parsed articles, the source of truth the index is rebuilt from."""
