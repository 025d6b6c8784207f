"""B2B buyer portal: a wholesaler's self-service portal for its business customers."""
