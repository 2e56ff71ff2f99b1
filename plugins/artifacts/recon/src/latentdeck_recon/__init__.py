"""Per-epoch reconstruction grid artifact."""
