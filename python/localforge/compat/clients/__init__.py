"""0.x's service clients, kept for plugins that import them (deprecated)."""
