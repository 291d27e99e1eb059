"""The project file: its pydantic schema (`schema`), YAML loading with line numbers (`loading`),
the consistency rules that span sections (`rules`) and the safe expression language of class
definitions and derived features (`expressions`).
"""
