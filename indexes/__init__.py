"""The on-disk index (FAISS through llama-index), its manifest, and what every layer shares:
settings, errors and the embedding model that defines the index's vector space."""
