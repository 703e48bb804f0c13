"""Pages of the money of a case: thin, they parse, call one service or selector, and render."""
