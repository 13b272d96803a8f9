"""Check-ins together: the weekly check-in, its chart, the appreciation courier, mutual topics."""
