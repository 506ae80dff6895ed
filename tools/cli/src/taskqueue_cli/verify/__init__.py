"""`taskqueue verify`: prove a deployed stack works, one check at a time, each with its figure."""
