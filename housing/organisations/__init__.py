"""Organisations (the bodies that pay), their office holders and the holders' homes."""
