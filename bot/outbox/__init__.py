"""Every message out: what is sent, how it is paced, and what is kept of it."""
