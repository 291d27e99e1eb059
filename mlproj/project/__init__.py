"""The project file: its pydantic schema, YAML loading with line numbers, consistency
rules and the safe expression language of class definitions and derived features.
"""
