"""Recommendations from user–item interactions: latent-factor models, their storage and serving."""
