"""What every layer shares: the settings (one typed object, `settings`) and the errors (`errors`).

ingest, indexes, assistant and ui all import from here; it imports none of them."""
