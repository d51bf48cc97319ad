"""latent package."""
