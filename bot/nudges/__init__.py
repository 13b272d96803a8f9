"""Daily nudges: when they fire, which prompt comes next, the shared question, and the engine."""
