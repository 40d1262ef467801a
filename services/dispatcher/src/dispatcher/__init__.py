"""dispatcher: turns approved deliveries into rate-limited multicast send jobs (配信)."""
