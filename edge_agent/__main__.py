"""`python -m edge_agent run|status|drain`."""
import sys

from edge_agent.cli import main

sys.exit(main())
