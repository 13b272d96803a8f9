"""The couple logic: plain values in, plain results out; never imports telegram."""
