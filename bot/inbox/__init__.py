"""Every update in: stored before it is acknowledged, handled in order per chat, retried, parked."""
