"""segment-service: who the residents are and what they want to receive (受信設定)."""
