"""What every capability stands on: the clock, domain errors and the live workers."""
