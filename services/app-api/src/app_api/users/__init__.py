"""People who have signed in, for the share picker."""
