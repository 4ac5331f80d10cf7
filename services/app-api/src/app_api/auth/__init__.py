"""Sign-in: the OpenID Connect authorization code flow with PKCE, for the web frontend."""
