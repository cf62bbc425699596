"""Use cases, HTTP-agnostic: authorize, load images, infer, manage models and keys."""
