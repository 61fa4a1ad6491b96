"""The operator console: reads every package; nothing imports it."""
