"""Shared plumbing for the city LINE platform. Domain rules live in the services, never here."""
