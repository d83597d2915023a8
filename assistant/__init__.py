"""The assistant: retrieve passages, answer from them with citations, log what it could not answer."""
