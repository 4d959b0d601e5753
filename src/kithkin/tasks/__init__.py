"""Tasks: follow-up work owned by a staff member or a team (playbooks, lists, people)."""
