"""Administrators browse the models a provider offers before adding them to the catalogue."""
