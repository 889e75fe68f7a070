"""Root of the tests: its folder is on ``sys.path``, so test modules import ``helpers``."""
