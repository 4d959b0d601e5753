"""Customer memory: what a customer likes (categories, brands, sizes, channels, notes)."""
