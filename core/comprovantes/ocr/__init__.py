"""Reading text from receipts: OCR engines behind one interface, and the PDF text layer first."""
