from mlproj.cli import entry

entry()
