"""Model packages, importers, task implementations and the ModelManager."""
