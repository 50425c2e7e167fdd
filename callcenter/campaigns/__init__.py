"""Campaigns, lead import and do-not-call lists: the manager's screens."""
