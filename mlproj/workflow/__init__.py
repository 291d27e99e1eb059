"""The commands as a library: run (load -> compile -> execute -> analyse -> judge -> store),
re-judging a stored run, applying a model, scaffolding a project.
"""
