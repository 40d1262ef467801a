"""ingress-webhook: take every LINE webhook within LINE's 2-second budget, lose none."""
