"""Ruptura: stock rules per order, batch analyses in Redis (SSE), and the demo carteira."""
