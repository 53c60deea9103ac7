"""`bench/ocr.py`, the name issue 15 and the earlier releases use, runs bench/comprovantes.py
with the same arguments (the receipts feature's benchmark; see its docstring). Last line: JSON."""
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("comprovantes.py")), run_name="__main__")
