"""STAGE 2: bytes from the web, politely; never parses."""
