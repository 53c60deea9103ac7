"""Payment receipts (comprovantes): upload validation, storage, OCR and the PIX receipt parser."""
