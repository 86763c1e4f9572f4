"""Built-in sinks: feed (Data Feed files), crossengage (events API), jsonl (JSON Lines)."""
