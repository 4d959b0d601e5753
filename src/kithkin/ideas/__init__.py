"""Co-creation: ideas from customers, votes, comments and a public status (LEGO Ideas)."""
