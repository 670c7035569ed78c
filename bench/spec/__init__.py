"""Framework-neutral descriptions: layers, models, recipes, suites, search spaces. Imports no framework."""
