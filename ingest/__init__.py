"""Ingest: read documents, clean and chunk them, embed the chunks, write a new index version."""
