"""metasparse: automated configuration of dynamic sparse training."""
