"""mlproj: declarative machine-learning projects with an honest finish line."""

__version__ = "0.1.0"
