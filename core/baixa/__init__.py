"""Baixa: write scanned products off exactly once, undo write-offs, keep given-up scans."""
