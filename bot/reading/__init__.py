"""Reading and watching: focus areas, the couple's plan, article excerpts and video picks."""
