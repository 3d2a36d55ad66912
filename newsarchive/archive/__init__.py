"""STAGE 3: the raw pages, byte for byte, forever (WARC files and the capture index)."""
