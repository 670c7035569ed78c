"""The result records on disk: atomic writes, loading, import of other runs."""
