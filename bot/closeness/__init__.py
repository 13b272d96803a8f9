"""The closeness exercises: the expectations map and the opt-in vulnerability prompt."""
