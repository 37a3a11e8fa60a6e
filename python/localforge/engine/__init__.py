"""The 0.x engine namespace, kept for plugins: `localforge.engine.config`."""
