import sys
from pathlib import Path

# The rule checker is a plain module beside the tests (tests are collected with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))
