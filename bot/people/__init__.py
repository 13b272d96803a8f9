"""People and pairing: profiles, time zones, invites, what the bot waits for, data rights."""
