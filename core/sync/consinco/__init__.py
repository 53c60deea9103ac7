"""Consinco, the stores' ERP: its export views as SQLAlchemy models, and how to read them."""
