"""Something meaningful together: ideas both would enjoy, a day, and how it went."""
