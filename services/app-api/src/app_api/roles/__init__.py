"""AppRoles: administrators map identity-provider roles to the tools and models they grant."""
