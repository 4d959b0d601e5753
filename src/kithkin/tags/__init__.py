"""Customer tags: free labels staff put on customers (by hand or in bulk from a list)."""
